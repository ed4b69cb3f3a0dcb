"""The SMTP adapter against a real SMTP server on loopback: plain, STARTTLS and implicit TLS."""

import pytest

from mimic.adapters.smtp_mailer import SmtpConfig, SmtpMailer
from mimic.domain.errors import DeliveryFailed
from tests.stubs.smtp import (
    Inbox,
    free_port,
    password_authenticator,
    self_signed_contexts,
    smtp_server,
)

SENDER = "mimic@example.org"


async def test_starttls_with_login_delivers() -> None:
    inbox = Inbox()
    server_tls, client_tls = self_signed_contexts()
    with smtp_server(
        inbox,
        tls_context=server_tls,
        require_starttls=True,
        auth_required=True,
        authenticator=password_authenticator("mailer", "smtp-secret"),
    ) as port:
        config = SmtpConfig("127.0.0.1", port, SENDER, "starttls", "mailer", "smtp-secret")
        await SmtpMailer(config, client_tls).send("ann@example.com", "Hello", "Body text")
        assert await inbox.next() == ("ann@example.com", "Hello", "Body text\r\n")

        wrong = SmtpConfig("127.0.0.1", port, SENDER, "starttls", "mailer", "wrong")
        with pytest.raises(DeliveryFailed) as caught:
            await SmtpMailer(wrong, client_tls).send("ann@example.com", "Hello", "Body")
        assert "SMTPAuthenticationError" in str(caught.value)  # refused, not a timeout
        assert "wrong" not in str(caught.value)  # the password never shows up
        assert inbox.mails.empty()


async def test_implicit_tls_delivers_and_an_untrusted_certificate_is_refused() -> None:
    inbox = Inbox()
    server_tls, client_tls = self_signed_contexts()
    with smtp_server(inbox, ssl_context=server_tls) as port:
        config = SmtpConfig("127.0.0.1", port, SENDER, "tls")
        await SmtpMailer(config, client_tls).send("bob@example.com", "Hi", "Over TLS")
        assert await inbox.next() == ("bob@example.com", "Hi", "Over TLS\r\n")
        with pytest.raises(DeliveryFailed):
            await SmtpMailer(config).send("bob@example.com", "Hi", "system trust store")


async def test_no_server_is_a_delivery_failure() -> None:
    config = SmtpConfig("127.0.0.1", free_port(), SENDER, "none", timeout=2)
    with pytest.raises(DeliveryFailed):
        await SmtpMailer(config).send("c@example.com", "x", "y")


def test_an_unknown_tls_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="MIMIC_SMTP_TLS"):
        SmtpConfig("127.0.0.1", 25, SENDER, "ssl")
