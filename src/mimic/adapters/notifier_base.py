"""What notifiers share unless they can do better: several notices, one after the other."""

from collections.abc import Sequence

from mimic.ports.services import Notifier


class NotifierBase(Notifier):
    """A notifier that sends several notices as many single ones. One that stores them in
    one go (the outbox: one transaction) overrides `notify_many`."""

    async def notify_many(self, notices: Sequence[tuple[str, str, str]]) -> None:
        for user_id, event, text in notices:
            await self.notify(user_id, event, text)
