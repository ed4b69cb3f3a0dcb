"""Messages between users and admins: who may write where, who sees what, unread counts."""

from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from mimic.adapters.notifier_base import NotifierBase
from mimic.application.messaging import Messaging, NewThread
from mimic.domain.accounts import Role, User
from mimic.domain.errors import InvalidField, NotFound, TooManyRequests
from mimic.domain.messages import MAX_BODY_LENGTH
from mimic.domain.quotas import Quotas
from mimic.ports.live_events import ADMINS
from tests.fakes.accounts import InMemoryMessageRepository
from tests.fakes.live_events import RecordingLiveEvents
from tests.fakes.repositories.transactions import FakeTransactionManager
from tests.fakes.repositories.users import InMemoryUserRepository
from tests.fakes.services import START, FixedClock


class RecordingNotifier(NotifierBase):
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def notify(self, user_id: str, event: str, text: str) -> None:
        self.sent.append((user_id, event))


@dataclass
class Post:
    clock: FixedClock = field(default_factory=FixedClock)
    users: InMemoryUserRepository = field(default_factory=InMemoryUserRepository)
    messages: InMemoryMessageRepository = field(default_factory=InMemoryMessageRepository)
    notifier: RecordingNotifier = field(default_factory=RecordingNotifier)
    tx: FakeTransactionManager = field(default_factory=FakeTransactionManager)
    live: RecordingLiveEvents = field(default_factory=RecordingLiveEvents)
    quotas: Quotas = field(default_factory=Quotas)

    def desk(self) -> Messaging:
        return Messaging(
            self.messages,
            self.users,
            self.notifier,
            self.tx,
            self.clock,
            self.live,
            self.quotas,
        )

    async def person(self, name: str, role: Role = Role.USER) -> User:
        user = User(name, name, f"{name}@example.com", "!", role, START)
        await self.users.add(user)
        return user


@pytest.fixture
def post() -> Post:
    return Post()


async def test_a_user_writes_to_the_admins_and_an_admin_answers(post: Post) -> None:
    ann, root, other_admin = (
        await post.person("ann"),
        await post.person("root", Role.ADMIN),
        await post.person("ops", Role.ADMIN),
    )
    desk = post.desk()
    view = await desk.start(ann, NewThread(body="  Hello?\nSecond line  "))
    assert view.thread.subject == "Hello?"  # the first line, when no subject is given
    assert view.thread.user_id == ann.id
    assert (await desk.unread(root), await desk.unread(other_admin), await desk.unread(ann)) == (
        1,
        1,
        0,
    )

    post.clock.advance(timedelta(minutes=1))
    await desk.mark_read(other_admin, view.thread.id)  # admins read as one team
    assert await desk.unread(root) == 0
    # The admins' open pages raise their unread badge at once.
    assert post.live.kinds_for(ADMINS) == ["message.received"]
    await desk.reply(root, view.thread.id, "Hi ann")
    assert await desk.unread(ann) == 1
    assert post.notifier.sent == [(ann.id, "message.received")]
    assert post.live.kinds_for(ADMINS) == ["message.received"]  # not told of their own
    [summary] = await desk.threads(ann, 0, 10)
    assert (summary.unread, summary.messages, summary.thread.updated_at) == (
        1,
        2,
        post.clock.now(),
    )
    await desk.mark_read(ann, view.thread.id)
    assert await desk.unread(ann) == 0
    assert [m.body for m in (await desk.thread(ann, view.thread.id)).messages] == [
        "Hello?\nSecond line",
        "Hi ann",
    ]


async def test_threads_are_private_to_their_user(post: Post) -> None:
    ann, bob, root = (
        await post.person("ann"),
        await post.person("bob"),
        await post.person("root", Role.ADMIN),
    )
    desk = post.desk()
    view = await desk.start(ann, NewThread(body="mine", subject="Private"))
    for attempt in (
        desk.thread(bob, view.thread.id),
        desk.reply(bob, view.thread.id, "me too"),
        desk.mark_read(bob, view.thread.id),
    ):
        with pytest.raises(NotFound):
            await attempt
    assert await desk.threads(bob, 0, 10) == []
    assert [s.thread.subject for s in await desk.threads(root, 0, 10)] == ["Private"]
    with pytest.raises(InvalidField):
        await desk.start(bob, NewThread(body="to ann directly", to_user_id=ann.id))


async def test_the_user_is_notified_only_after_the_message_is_committed(post: Post) -> None:
    # The notifier writes in a transaction of its own: before our commit, it would wait on our
    # write lock (SQLite) and could announce a message that is then rolled back.
    ann, root = await post.person("ann"), await post.person("root", Role.ADMIN)
    commits_when_notified: list[int] = []

    class CommitWatcher(RecordingNotifier):
        async def notify(self, user_id: str, event: str, text: str) -> None:
            commits_when_notified.append(post.tx.commits)

    post.notifier = CommitWatcher()
    desk = post.desk()
    view = await desk.start(root, NewThread(body="hello", to_user_id=ann.id))
    await desk.reply(root, view.thread.id, "again")
    assert commits_when_notified == [1, 2]


async def test_an_admin_writes_to_a_named_known_user(post: Post) -> None:
    ann, root = await post.person("ann"), await post.person("root", Role.ADMIN)
    desk = post.desk()
    with pytest.raises(InvalidField) as caught:
        await desk.start(root, NewThread(body="hello"))
    assert caught.value.field == "user_id"
    with pytest.raises(InvalidField):
        await desk.start(root, NewThread(body="hello", to_user_id="nobody"))
    view = await desk.start(root, NewThread(body="hello", to_user_id=ann.id))
    assert view.thread.user_id == ann.id
    assert await desk.unread(ann) == 1


@pytest.mark.parametrize("body", ["", "   ", "x" * (MAX_BODY_LENGTH + 1)])
async def test_empty_or_oversized_bodies_are_refused(post: Post, body: str) -> None:
    ann = await post.person("ann")
    with pytest.raises(InvalidField) as caught:
        await post.desk().start(ann, NewThread(body=body))
    assert caught.value.field == "body"
    assert post.tx.commits == 0


async def test_a_user_writes_at_most_the_hourly_quota_and_admins_have_none(post: Post) -> None:
    post.quotas = Quotas(messages_per_hour=3)
    ann, root = await post.person("ann"), await post.person("root", Role.ADMIN)
    first = await post.desk().start(ann, NewThread("hello"))
    await post.desk().reply(ann, first.thread.id, "two")
    post.clock.advance(timedelta(minutes=10))
    await post.desk().reply(ann, first.thread.id, "three")
    threads = len(await post.desk().threads(ann, 0, 100))
    with pytest.raises(TooManyRequests) as caught:
        await post.desk().start(ann, NewThread("a fourth, in a new thread"))
    assert caught.value.retry_after_seconds == 50 * 60  # the first leaves the hour then
    with pytest.raises(TooManyRequests):
        await post.desk().reply(ann, first.thread.id, "a fourth")
    assert len(await post.desk().threads(ann, 0, 100)) == threads  # nothing half-written
    for n in range(5):
        await post.desk().reply(root, first.thread.id, f"admin answer {n}")
    post.clock.advance(timedelta(minutes=50))
    await post.desk().reply(ann, first.thread.id, "an hour after the first")
