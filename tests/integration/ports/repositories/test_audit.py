"""The AuditLog contract, on the fake and on SQL (SQLite, Postgres)."""

from datetime import UTC, timedelta

from mimic.domain.audit import AuditEvent
from tests.integration.ports.rows import NOW, new_id
from tests.integration.ports.stores import Store


async def test_audit_log_filters_and_pages_newest_first(store: Store) -> None:
    events = [
        AuditEvent(new_id(), NOW, "auth.login_failed", None, "user:alice", "10.0.0.1"),
        AuditEvent(new_id(), NOW + timedelta(seconds=1), "auth.login", "a" * 32, ip="10.0.0.1"),
        AuditEvent(
            new_id(),
            NOW + timedelta(seconds=2),
            "exchange.approved",
            "b" * 32,
            "exchange:x",
            details={"reason": "keys checked", "note": "ünïcode"},
        ),
        AuditEvent(new_id(), NOW + timedelta(seconds=3), "auth_other", "a" * 32),
    ]
    async with store.unit() as repos:
        for event in events:
            await repos.audit.record(event)
    async with store.unit() as repos:
        log = repos.audit
        assert await log.list() == list(reversed(events))
        assert await log.list(action="auth.") == [events[1], events[0]]
        assert await log.list(action="auth.login") == [events[1]]
        assert await log.list(action="auth_%.") == []  # a prefix is not a LIKE pattern
        assert await log.list(actor_id="a" * 32) == [events[3], events[1]]
        assert await log.list(offset=1, limit=2) == [events[2], events[1]]
        approved = (await log.list(action="exchange.approved"))[0]
    assert dict(approved.details) == {"reason": "keys checked", "note": "ünïcode"}
    assert approved.at.tzinfo is UTC
