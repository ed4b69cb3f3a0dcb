"""Signal sources (masters) as the admin manages them: create, rename, rotate, pause, delete.

A passphrase is shown once, when it is made; only its hash is kept, so a lost one is
replaced by a rotation, after which the old one stops working at once.
"""

import secrets
import uuid
from dataclasses import dataclass

from mimic.application.audit_trail import SYSTEM, RequestContext, audit_event
from mimic.application.receive_signal import passphrase_hash
from mimic.domain.accounts import SignalSource, TradeDirection
from mimic.domain.errors import Conflict, InvalidField, NotFound
from mimic.ports.repositories import AuditLog, SignalSourceRepository, TransactionManager
from mimic.ports.services import Clock

MAX_NAME_LENGTH = 64


@dataclass(frozen=True, slots=True)
class IssuedSource:
    """A source with the passphrase just made for it: the only time it can be read."""

    source: SignalSource
    passphrase: str


@dataclass(frozen=True, slots=True)
class SourceChanges:
    name: str | None = None
    active: bool | None = None
    direction: TradeDirection | None = None


class ManageSignalSources:
    def __init__(
        self,
        sources: SignalSourceRepository,
        audit: AuditLog,
        tx: TransactionManager,
        clock: Clock,
    ) -> None:
        self._sources = sources
        self._audit = audit
        self._tx = tx
        self._clock = clock

    async def list_all(self) -> list[SignalSource]:
        return await self._sources.list_all()

    async def names(self) -> dict[str, str]:
        """Each source's name by id: what signals are shown with."""
        return {s.id: s.name for s in await self._sources.list_all()}

    async def check_filter(self, source_id: str | None) -> None:
        """A list filtered by `source_id` (the `source` parameter) needs that source."""
        if source_id is not None and await self._sources.get(source_id) is None:
            raise InvalidField("source", f"no signal source {source_id!r}")

    async def create(
        self,
        name: str,
        direction: TradeDirection = TradeDirection.BOTH,
        context: RequestContext = SYSTEM,
    ) -> IssuedSource:
        passphrase = new_passphrase()
        source = SignalSource(
            id=uuid.uuid4().hex,
            name=_valid_name(name),
            passphrase_hash=passphrase_hash(passphrase),
            direction=direction,
        )
        await self._sources.add(source)
        await self._record(context, "source.created", source, direction=direction.value)
        return IssuedSource(source, passphrase)

    async def change(
        self, source_id: str, changes: SourceChanges, context: RequestContext = SYSTEM
    ) -> SignalSource:
        source = await self._get(source_id)
        details = {}
        if changes.name is not None and changes.name.strip() != source.name:
            details["name"] = f"{source.name} -> {_valid_name(changes.name)}"
            source.name = _valid_name(changes.name)
        if changes.active is not None and changes.active != source.active:
            details["active"] = f"{source.active} -> {changes.active}"
            source.active = changes.active
        if changes.direction is not None and changes.direction != source.direction:
            details["direction"] = f"{source.direction} -> {changes.direction}"
            source.direction = changes.direction
        await self._sources.save(source)
        await self._record(context, "source.changed", source, **details)
        return source

    async def rotate(self, source_id: str, context: RequestContext = SYSTEM) -> IssuedSource:
        """A new passphrase; the old one is refused from the moment this commits."""
        source = await self._get(source_id)
        passphrase = new_passphrase()
        source.passphrase_hash = passphrase_hash(passphrase)
        await self._sources.save(source)
        await self._record(context, "source.rotated", source)
        return IssuedSource(source, passphrase)

    async def delete(self, source_id: str, context: RequestContext = SYSTEM) -> None:
        """Only a source no signal came from: its history stays readable (pause it instead)."""
        source = await self._get(source_id)
        if not await self._sources.delete_unused(source_id):
            raise Conflict(
                f"source {source.name!r} has signals, which keep their history: pause it instead"
            )
        await self._record(context, "source.deleted", source)

    async def _get(self, source_id: str) -> SignalSource:
        source = await self._sources.get(source_id)
        if source is None:
            raise NotFound(f"signal source {source_id} not found")
        return source

    async def _record(
        self, context: RequestContext, action: str, source: SignalSource, **details: str
    ) -> None:
        event = audit_event(
            context, self._clock.now(), action, target=source.id, source=source.name, **details
        )
        await self._audit.record(event)
        await self._tx.commit()


def new_passphrase() -> str:
    return secrets.token_urlsafe(24)


def _valid_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidField("name", f"must be 1 to {MAX_NAME_LENGTH} characters")
    return name
