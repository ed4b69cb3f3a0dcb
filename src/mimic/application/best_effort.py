"""Telling a user is never allowed to undo or cut short what was already decided."""

import logging

from mimic.ports.services import Notifier

log = logging.getLogger(__name__)


async def notify_quietly(notifier: Notifier, user_id: str, event: str, text: str) -> None:
    """A delivery failure is logged; the caller's committed work and its loop go on."""
    try:
        await notifier.notify(user_id, event, text)
    except Exception:  # any channel failure: the notice is lost, the payment is not
        log.exception("could not notify user %s of %s", user_id, event)
