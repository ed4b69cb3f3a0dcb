import logging

from mimic.ports.services import Mailer

log = logging.getLogger("mimic.mail")


class LoggingMailer(Mailer):
    """The embedded default without an SMTP server: mails go to the log.

    Mails may carry single-use codes (a password reset); that is why this is only the
    fallback when no SMTP host is configured, the operator's own console.
    """

    async def send(self, to: str, subject: str, body: str) -> None:
        log.info("mail to=%s subject=%s\n%s", to, subject, body)
