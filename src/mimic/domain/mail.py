"""Mails a person reads: a subject in words, the news, and a link to the page that shows it."""

from collections.abc import Sequence
from dataclasses import dataclass

from mimic.domain.notifications import Notification

# Subject of a mail holding one notice of this event, and the page it links to.
_EVENT_MAILS: dict[str, tuple[str, str]] = {
    "order.filled": ("Your order was filled", "/dashboard"),
    "order.rejected": ("Your exchange rejected an order", "/orders?status=rejected"),
    "order.skipped": ("A signal was not copied to your account", "/orders?status=skipped"),
    "position.take_profit": ("Take-profit reached: a position was closed", "/dashboard"),
    "position.stop_loss": ("Stop-loss hit: a position was closed", "/dashboard"),
    "position.trailing_stop": ("Trailing stop hit: a position was closed", "/dashboard"),
    "position.dca": ("A DCA order was placed on your position", "/dashboard"),
    "guardrail.tripped": ("A daily guardrail paused your copying", "/settings"),
    "exchange.approved": ("Your exchange connection was approved", "/exchanges"),
    "exchange.rejected": ("Your exchange connection was not approved", "/exchanges"),
    "subscription.expiring": ("Your Mimic subscription ends soon", "/subscription"),
    "subscription.expired": ("Your Mimic subscription has ended", "/subscription"),
    "panic.executed": ("The panic switch closed your positions", "/dashboard"),
    "message.received": ("New message from the Mimic admins", "/messages"),
}
_FALLBACK = ("News from Mimic", "/dashboard")


@dataclass(frozen=True, slots=True)
class Mail:
    subject: str
    body: str


def notification_mail(items: Sequence[Notification], site_url: str) -> Mail:
    """One mail for a user's waiting notices (at least one), oldest first."""
    subject, page = _EVENT_MAILS.get(items[0].event, _FALLBACK)
    if len({item.event for item in items}) > 1 or len(items) > 1:
        subject = f"{len(items)} updates from Mimic"
    link = f"{site_url.rstrip('/')}{page}"
    news = "\n".join(f"- {item.text}" for item in items)
    body = (
        "Hello,\n\n"
        f"{news}\n\n"
        f"See it in Mimic: {link}\n\n"
        f"You choose which events reach you by mail at {site_url.rstrip('/')}/notifications.\n"
    )
    return Mail(subject, body)
