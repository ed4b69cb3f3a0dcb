"""Notification rules (channels, batching, Telegram's flood limits) and the sender."""

import uuid
from datetime import timedelta

import pytest

from mimic.application.deliver_notifications import DeliverNotifications, DeliveryPolicy
from mimic.domain.accounts import Role, User
from mimic.domain.errors import InsufficientMargin, InvalidField
from mimic.domain.notifications import (
    MAX_MESSAGE_CHARS,
    Channel,
    FloodControl,
    Notification,
    default_channels,
    pack_messages,
    parse_channels,
)
from mimic.domain.signal import SignalAction
from tests.fakes.metrics import RecordingMetrics
from tests.fakes.notifications import (
    InMemoryOutbox,
    InMemoryPreferences,
    InMemoryRecipients,
    InMemoryTelegramLinks,
    RecordingMessenger,
)
from tests.fakes.repositories.transactions import FakeTransactionManager
from tests.fakes.repositories.users import InMemoryUserRepository
from tests.fakes.services import START, FixedClock, RecordingMailer
from tests.unit.application.test_execute_signal import World

SECOND = timedelta(seconds=1)


def test_a_chat_gets_at_most_one_message_per_second() -> None:
    flood = FloodControl()
    assert flood.wait_for("a", START) == timedelta(0)
    flood.sent("a", START)
    assert flood.wait_for("a", START + timedelta(milliseconds=300)) == timedelta(milliseconds=700)
    assert flood.wait_for("b", START) == timedelta(0)  # other chats are not held back
    assert flood.wait_for("a", START + SECOND) == timedelta(0)


def test_the_bot_sends_at_most_thirty_messages_per_second_overall() -> None:
    flood = FloodControl()
    for n in range(30):
        moment = START + timedelta(milliseconds=10 * n)
        assert flood.wait_for(f"chat{n}", moment) == timedelta(0)
        flood.sent(f"chat{n}", moment)
    later = START + timedelta(milliseconds=500)
    assert flood.wait_for("another", later) == timedelta(milliseconds=500)
    # The first of the thirty leaves the one-second window at START + 1 s.
    assert flood.wait_for("another", START + timedelta(milliseconds=999)) == timedelta(
        milliseconds=1
    )
    assert flood.wait_for("another", START + SECOND) == timedelta(0)


def test_retry_after_holds_back_every_chat() -> None:
    flood = FloodControl()
    flood.retry_after(5, START)
    assert flood.wait_for("any", START + SECOND) == 4 * SECOND
    flood.retry_after(1, START)  # a shorter wait never shortens a longer one
    assert flood.wait_for("any", START + SECOND) == 4 * SECOND
    assert flood.wait_for("any", START + 5 * SECOND) == timedelta(0)


def test_messages_are_packed_up_to_telegrams_limit() -> None:
    texts = ["a" * 3000, "b" * 1000, "c" * 200, "d" * 5000]
    packed = pack_messages(texts)
    assert [indexes for _, indexes in packed] == [[0, 1], [2], [3]]
    assert packed[0][0] == "a" * 3000 + "\n" + "b" * 1000
    assert all(len(text) <= MAX_MESSAGE_CHARS for text, _ in packed)
    assert pack_messages([]) == []


def test_default_channels_and_choices() -> None:
    assert default_channels("order.filled", telegram_linked=True) == {Channel.TELEGRAM}
    assert default_channels("order.filled", telegram_linked=False) == set()
    assert default_channels("order.rejected", telegram_linked=False) == {Channel.EMAIL}
    assert parse_channels("panic.executed", ["email", "telegram"]) == set(Channel)
    with pytest.raises(InvalidField):
        parse_channels("order.eaten", [])
    with pytest.raises(InvalidField):
        parse_channels("order.filled", ["fax"])


class Sender:
    def __init__(self) -> None:
        self.clock = FixedClock()
        self.outbox = InMemoryOutbox()
        self.preferences = InMemoryPreferences()
        self.links = InMemoryTelegramLinks()
        self.users = InMemoryUserRepository()
        self.messenger = RecordingMessenger()
        self.mailer = RecordingMailer()
        self.flood = FloodControl()
        self.metrics = RecordingMetrics()

    def deliver(self, budget: timedelta = timedelta(seconds=10)) -> DeliverNotifications:
        # A flood wait is never slept here, it postpones (deterministic tests).
        policy = DeliveryPolicy(pass_budget=budget, max_wait=timedelta(0))
        return DeliverNotifications(
            self.outbox,
            self.preferences,
            InMemoryRecipients(self.users, self.links),
            self.messenger,
            self.mailer,
            self.flood,
            FakeTransactionManager(),
            self.clock,
            policy,
            self.metrics,
        )

    async def user(self, name: str, chat: str | None = None) -> User:
        user = User(
            id=uuid.uuid4().hex,
            username=name,
            email=f"{name}@example.com",
            password_hash="x",
            role=Role.USER,
            created_at=START,
        )
        await self.users.add(user)
        if chat is not None:
            await self.links.link(user.id, chat, START)
        return user

    async def queue(self, user: User, event: str, text: str, batch: str | None = None) -> str:
        notification = Notification(
            id=uuid.uuid4().hex,
            user_id=user.id,
            event=event,
            text=text,
            created_at=self.clock.now(),
            batch_key=batch,
        )
        await self.outbox.add_many([notification])
        return notification.id


@pytest.fixture
def sender() -> Sender:
    return Sender()


async def test_a_signals_results_reach_a_follower_as_one_message(sender: Sender) -> None:
    alice = await sender.user("alice", chat="100")
    bob = await sender.user("bob", chat="200")
    for n in range(3):
        await sender.queue(alice, "order.filled", f"alice fill {n}", batch="signal-1")
    await sender.queue(bob, "order.skipped", "bob skipped", batch="signal-1")

    assert await sender.deliver()() == 4
    sent = dict(sender.messenger.sent)
    assert len(sender.messenger.sent) == 2
    assert sorted(sent["100"].split("\n")) == [f"alice fill {n}" for n in range(3)]
    assert sent["200"] == "bob skipped"
    assert sender.outbox.undelivered() == []
    assert await sender.deliver()() == 0  # nothing is sent twice


async def test_without_a_chat_important_events_go_by_email(sender: Sender) -> None:
    carol = await sender.user("carol")
    await sender.queue(carol, "order.rejected", "rejected: margin", batch="s")
    await sender.queue(carol, "order.filled", "filled", batch="s")

    assert await sender.deliver()() == 2
    assert sender.messenger.sent == []
    [(to, subject, body)] = sender.mailer.sent
    assert (to, subject) == ("carol@example.com", "Your exchange rejected an order")
    assert "- rejected: margin\n" in body
    assert f"{DeliveryPolicy().site_url}/orders?status=rejected" in body  # the page to open


async def test_chosen_channels_win_over_the_defaults(sender: Sender) -> None:
    dave = await sender.user("dave", chat="300")
    await sender.preferences.choose(dave.id, {"order.filled": frozenset({Channel.EMAIL})})
    await sender.preferences.choose(dave.id, {"order.skipped": frozenset()})
    await sender.queue(dave, "order.filled", "filled")
    await sender.queue(dave, "order.skipped", "skipped")

    assert await sender.deliver()() == 2
    assert sender.messenger.sent == []
    assert [subject for _, subject, _ in sender.mailer.sent] == ["Your order was filled"]


async def test_429_postpones_by_retry_after_and_loses_nothing(sender: Sender) -> None:
    erin = await sender.user("erin", chat="400")
    await sender.queue(erin, "exchange.approved", "approved")
    sender.messenger.flood_waits.append(7)

    assert await sender.deliver()() == 0
    assert sender.messenger.sent == []
    sender.clock.advance(6 * SECOND)
    assert await sender.deliver()() == 0  # not due yet
    sender.clock.advance(SECOND)
    assert await sender.deliver()() == 1
    assert sender.messenger.sent == [("400", "approved")]


async def test_a_second_message_to_a_chat_waits_its_turn(sender: Sender) -> None:
    frank = await sender.user("frank", chat="500")
    await sender.queue(frank, "exchange.approved", "first")
    sender.clock.advance(timedelta(milliseconds=1))
    await sender.queue(frank, "exchange.rejected", "second")

    assert await sender.deliver()() == 1
    assert sender.messenger.sent == [("500", "first")]
    sender.clock.advance(SECOND)
    assert await sender.deliver()() == 1
    assert sender.messenger.sent == [("500", "first"), ("500", "second")]


async def test_a_failed_channel_is_retried_without_repeating_the_other(sender: Sender) -> None:
    gina = await sender.user("gina", chat="600")
    await sender.preferences.choose(
        gina.id, {"guardrail.tripped": frozenset({Channel.EMAIL, Channel.TELEGRAM})}
    )
    notification = await sender.queue(gina, "guardrail.tripped", "drawdown stop")
    sender.messenger.failures.append("telegram sendMessage answered 403: blocked")

    assert await sender.deliver()() == 0
    assert len(sender.mailer.sent) == 1
    assert "blocked" in str(sender.outbox.errors[notification])
    sender.clock.advance(DeliveryPolicy().first_retry)
    assert await sender.deliver()() == 1
    assert sender.messenger.sent == [("600", "drawdown stop")]
    assert len(sender.mailer.sent) == 1  # the mail went out once
    # Each pass saw the backlog before it delivered; the failure counted on its channel.
    assert sender.metrics.backlogs == [1, 1]
    assert sender.metrics.delivery_failures == {"telegram": 1}
    await sender.deliver()()
    assert sender.metrics.backlogs == [1, 1, 0]


async def test_retries_back_off_up_to_a_cap() -> None:
    policy = DeliveryPolicy(first_retry=5 * SECOND, max_retry=timedelta(minutes=10))
    assert [policy.retry_delay(n).total_seconds() for n in (1, 2, 3, 10, 100)] == [
        5,
        10,
        20,
        600,
        600,
    ]


async def test_the_fan_out_queues_one_notification_per_settled_order() -> None:
    world = World()
    alice = await world.follower("alice")
    bob = await world.follower("bob")
    await world.follower("paused", paused=True)
    bob.exchange.fail_next_place(InsufficientMargin("Margin is insufficient."))
    signal = await world.signal(SignalAction.LONG)

    await world.run(signal)
    await world.run(signal)  # a re-run settles nothing new: nothing is queued twice

    queued = sorted(world.outbox.rows.values(), key=lambda n: n.event)
    assert [(n.event, n.batch_key) for n in queued] == [
        ("order.filled", signal.id),
        ("order.rejected", signal.id),
        ("order.skipped", signal.id),
    ]
    assert queued[0].user_id == alice.user.id
    assert "BTCUSDT buy" in queued[0].text
    assert queued[1].text.endswith("Margin is insufficient.")
    assert "paused" in queued[2].text


async def test_a_pass_out_of_time_leaves_the_rest_for_the_next(sender: Sender) -> None:
    slow = await sender.user("slow")
    late = await sender.user("late", chat="700")
    await sender.queue(slow, "order.rejected", "rejected: margin")
    sender.clock.advance(timedelta(milliseconds=1))
    await sender.queue(late, "exchange.approved", "approved")

    no_time = timedelta(0)
    assert await sender.deliver(no_time)() == 1  # no time left: only the first group goes
    assert sender.messenger.sent == []
    assert await sender.deliver(no_time)() == 1
    assert sender.messenger.sent == [("700", "approved")]
    assert len(sender.mailer.sent) == 1
