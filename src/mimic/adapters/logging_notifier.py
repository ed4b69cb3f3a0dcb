import logging

from mimic.ports.services import Notifier

log = logging.getLogger("mimic.notifications")


class LoggingNotifier(Notifier):
    """The embedded default: notifications go to the log (no secrets are ever in them)."""

    async def notify(self, user_id: str, event: str, text: str) -> None:
        log.info("notify user=%s event=%s: %s", user_id, event, text)
