"""OutboxNotifier.notify_many: many notifications queued in one transaction, on real
SQLite and Postgres, and never an error for what it reports."""

import logging
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mimic.adapters.sqlalchemy.engine import create_engine, create_session_factory
from mimic.adapters.sqlalchemy.notifications import SqlNotificationOutbox
from mimic.adapters.sqlalchemy.outbox_notifier import OutboxNotifier
from tests.fakes.services import FixedClock
from tests.integration.adapters.sqlalchemy.test_repositories import Sessions, sessions

__all__ = ["sessions"]  # the fixture, on both databases

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


async def queued(sessions: Sessions) -> list[tuple[str, str, str]]:
    async with sessions() as session:
        outbox = SqlNotificationOutbox(session)
        due = await outbox.claim_due(now=NOW, lease_until=NOW + timedelta(minutes=1), limit=100)
        await session.commit()
    return sorted((n.user_id, n.event, n.text) for n in due)


async def test_every_notice_is_queued_once_and_due_at_once(sessions: Sessions) -> None:
    users = [uuid.uuid4().hex for _ in range(3)]
    notices = [
        (users[0], "position.take_profit", "TP on BTCUSDT"),
        (users[1], "position.stop_loss", "SL on ETHUSDT"),
        (users[2], "position.liquidation", "liquidated on XRPUSDT"),
        (users[0], "position.external", "closed in the app"),
    ]
    await OutboxNotifier(sessions, FixedClock(NOW)).notify_many(notices)
    assert await queued(sessions) == sorted(notices)


async def test_nothing_to_notify_queues_nothing(sessions: Sessions) -> None:
    await OutboxNotifier(sessions, FixedClock(NOW)).notify_many([])
    assert await queued(sessions) == []


async def test_an_outbox_that_cannot_be_written_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'mimic.db'}")
    notifier = OutboxNotifier(create_session_factory(engine), FixedClock(NOW))
    with caplog.at_level(logging.ERROR, logger="mimic.notifications"):
        await notifier.notify_many([("user-1", "position.take_profit", "TP on BTCUSDT")])
    await engine.dispose()
    assert "could not queue 1 notifications (position.take_profit, ...)" in caplog.text
