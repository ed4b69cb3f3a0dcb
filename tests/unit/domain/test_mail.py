"""Notification mails read like a person wrote them and link to the page that shows it."""

from datetime import UTC, datetime

from mimic.domain.mail import notification_mail
from mimic.domain.notifications import EVENTS, Notification

AT = datetime(2026, 1, 1, tzinfo=UTC)


def notice(event: str, text: str) -> Notification:
    return Notification(id=text, user_id="u", event=event, text=text, created_at=AT)


def test_every_event_has_a_subject_in_words_not_its_code() -> None:
    for event in EVENTS:
        mail = notification_mail([notice(event, "news")], "https://mimic.example/")
        assert event not in mail.subject
        assert "https://mimic.example/" in mail.body
        assert "//" not in mail.body.split("https://", 1)[1].split("\n", 1)[0]


def test_several_notices_make_one_mail_listing_each() -> None:
    mail = notification_mail(
        [notice("order.filled", "BTCUSDT filled"), notice("order.rejected", "ETHUSDT refused")],
        "http://127.0.0.1:8000",
    )
    assert mail.subject == "2 updates from Mimic"
    assert "- BTCUSDT filled\n- ETHUSDT refused\n" in mail.body
    assert "http://127.0.0.1:8000/dashboard" in mail.body
    # Which events come by mail is chosen on the notifications page.
    assert "by mail at http://127.0.0.1:8000/notifications." in mail.body
