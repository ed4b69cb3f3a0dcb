"""The Mailer on an SMTP server (stdlib smtplib in a worker thread)."""

import asyncio
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from mimic.domain.errors import DeliveryFailed
from mimic.ports.services import Mailer

TLS_MODES = ("none", "starttls", "tls")


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    tls: str = "starttls"  # none | starttls | tls (implicit, usually port 465)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 15.0

    def __post_init__(self) -> None:
        if self.tls not in TLS_MODES:
            raise ValueError(f"MIMIC_SMTP_TLS must be one of {', '.join(TLS_MODES)}")


class SmtpMailer(Mailer):
    def __init__(self, config: SmtpConfig, tls_context: ssl.SSLContext | None = None) -> None:
        self._config = config
        self._tls_context = tls_context or ssl.create_default_context()

    async def send(self, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self._config.sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self._config.sender.rpartition("@")[2] or None)
        message.set_content(body)
        try:
            await asyncio.to_thread(self._deliver, message)
        except (smtplib.SMTPException, OSError) as exc:
            # The server's answer, never our credentials: smtplib does not echo them.
            raise DeliveryFailed(f"mail to {to} not accepted: {exc.__class__.__name__}") from exc

    def _deliver(self, message: EmailMessage) -> None:
        config = self._config
        client: smtplib.SMTP
        if config.tls == "tls":
            client = smtplib.SMTP_SSL(
                config.host, config.port, timeout=config.timeout, context=self._tls_context
            )
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        with client:
            if config.tls == "starttls":
                client.starttls(context=self._tls_context)
            if config.username:
                client.login(config.username, config.password or "")
            client.send_message(message)
