"""The admin's signal sources: a passphrase is shown once; a rotation retires the old one."""

import pytest

from mimic.application.audit_trail import RequestContext
from mimic.application.receive_signal import passphrase_hash
from mimic.application.signal_sources import ManageSignalSources, SourceChanges
from mimic.domain.accounts import TradeDirection
from mimic.domain.errors import Conflict, InvalidField, NotFound
from tests.fakes.repositories.audit import InMemoryAuditLog
from tests.fakes.repositories.signals import InMemorySignalSourceRepository
from tests.fakes.repositories.transactions import FakeTransactionManager
from tests.fakes.services import FixedClock

ADMIN = RequestContext(actor_id="admin-id", ip="192.0.2.1")


@pytest.fixture
def sources() -> InMemorySignalSourceRepository:
    return InMemorySignalSourceRepository()


@pytest.fixture
def audit() -> InMemoryAuditLog:
    return InMemoryAuditLog()


@pytest.fixture
def manage(sources: InMemorySignalSourceRepository, audit: InMemoryAuditLog) -> ManageSignalSources:
    return ManageSignalSources(sources, audit, FakeTransactionManager(), FixedClock())


async def test_a_new_source_is_found_by_the_passphrase_shown_once(
    manage: ManageSignalSources, sources: InMemorySignalSourceRepository, audit: InMemoryAuditLog
) -> None:
    issued = await manage.create("  Scalper  ", TradeDirection.LONG_ONLY, ADMIN)
    found = await sources.get_by_passphrase_hash(passphrase_hash(issued.passphrase))
    assert found is not None
    assert (found.name, found.direction, found.active) == ("Scalper", "long_only", True)
    assert issued.passphrase not in found.passphrase_hash
    [event] = await audit.list()
    assert (event.action, event.target, event.actor_id) == ("source.created", found.id, "admin-id")
    assert issued.passphrase not in str(dict(event.details))


async def test_a_rotation_retires_the_old_passphrase(
    manage: ManageSignalSources, sources: InMemorySignalSourceRepository
) -> None:
    first = await manage.create("master")
    second = await manage.rotate(first.source.id, ADMIN)
    assert second.passphrase != first.passphrase
    assert await sources.get_by_passphrase_hash(passphrase_hash(first.passphrase)) is None
    assert await sources.get_by_passphrase_hash(passphrase_hash(second.passphrase)) is not None


async def test_changes_are_applied_and_audited_with_before_and_after(
    manage: ManageSignalSources, audit: InMemoryAuditLog
) -> None:
    issued = await manage.create("master")
    changed = await manage.change(
        issued.source.id,
        SourceChanges(name="swing", active=False, direction=TradeDirection.SHORT_ONLY),
        ADMIN,
    )
    assert (changed.name, changed.active, changed.direction) == ("swing", False, "short_only")
    event = (await audit.list(action="source.changed"))[0]
    assert dict(event.details) == {
        "source": "swing",
        "name": "master -> swing",
        "active": "True -> False",
        "direction": "both -> short_only",
    }


@pytest.mark.parametrize("name", ["", "   ", "x" * 65])
async def test_a_name_must_be_one_to_64_characters(manage: ManageSignalSources, name: str) -> None:
    with pytest.raises(InvalidField):
        await manage.create(name)


async def test_a_source_signals_came_from_is_not_deleted(
    manage: ManageSignalSources, sources: InMemorySignalSourceRepository
) -> None:
    used = await manage.create("used")
    unused = await manage.create("unused")
    sources.used.add(used.source.id)
    with pytest.raises(Conflict, match="pause it instead"):
        await manage.delete(used.source.id)
    await manage.delete(unused.source.id)
    assert [s.name for s in await sources.list_all()] == ["used"]
    with pytest.raises(NotFound):
        await manage.delete(unused.source.id)
