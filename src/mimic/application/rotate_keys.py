"""`mimic keys rotate`: every stored secret re-encrypted with the newest master key."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from mimic.domain.errors import SecretUnreadable
from mimic.ports.credentials import CredentialRepository, SecretBox
from mimic.ports.repositories import TransactionManager

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RotationReport:
    scanned: int = 0
    rotated: int = 0
    already_current: int = 0
    changed_meanwhile: int = 0  # the row was deleted or re-keyed during the run: left alone
    unreadable: list[str] = field(default_factory=list)  # connection (or master account) ids

    @property
    def ok(self) -> bool:
        return not self.unreadable


class RotateCredentialKeys:
    """Batches of rows, each row swapped only if it is still what was read (compare and
    swap), committed per batch: safe while the platform runs, resumable after a crash.

    Every process must already know the newest key (MIMIC_MASTER_KEYS="new,old") before
    the rotation starts; the old key can go once the report says nothing is unreadable.
    """

    def __init__(
        self,
        credentials: CredentialRepository,
        box: SecretBox,
        tx: TransactionManager,
        *,
        more: Sequence[CredentialRepository] = (),
    ) -> None:
        """`more`: other places secrets are kept (masters' own accounts), rotated after."""
        self._stores = (credentials, *more)
        self._box = box
        self._tx = tx

    async def __call__(self, batch_size: int = 200) -> RotationReport:
        report = RotationReport()
        for store in self._stores:
            await self._rotate(store, batch_size, report)
        return report

    async def _rotate(
        self, credentials: CredentialRepository, batch_size: int, report: RotationReport
    ) -> None:
        after: str | None = None
        while batch := await credentials.page_after(after, batch_size):
            for stored in batch:
                report.scanned += 1
                try:
                    token = self._box.rotate(
                        stored.token, user_id=stored.user_id, account_id=stored.account_id
                    )
                except SecretUnreadable as exc:
                    log.error("connection %s: %s", stored.account_id, exc)
                    report.unreadable.append(stored.account_id)
                    continue
                if token is None:
                    report.already_current += 1
                elif await credentials.replace(stored.account_id, stored.token, token):
                    report.rotated += 1
                else:
                    report.changed_meanwhile += 1
            await self._tx.commit()
            after = batch[-1].account_id
