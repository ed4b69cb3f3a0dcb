"""Connecting live exchanges: credentials sealed per connection, the background check,
the admin's decision told to the follower, and the rotation of master keys."""

from dataclasses import replace
from datetime import timedelta

import pytest

from mimic.application.exchange_connections import ConnectExchangeCommand
from mimic.application.rotate_keys import RotateCredentialKeys
from mimic.application.validate_connection import SweepUnvalidatedConnections, ValidateConnection
from mimic.domain.accounts import AccountCheck, ApiCredentials, ValidationStatus
from mimic.domain.errors import AuthRejected, ExchangeError, ExchangeUnavailable, InvalidField
from tests.fakes.credentials import LabelledBox
from tests.fakes.exchange import FakeExchange, FakeGateways
from tests.unit.application.test_accounts import People

KEY, SECRET = "AbCdEfGhIjKlMnOp1234", "very-secret-value-0987"


@pytest.fixture
def people() -> People:
    return People(gateways=FakeGateways(supported=("paper", "binanceusdm")))


class CheckedExchange(FakeExchange):
    def __init__(self, outcome: AccountCheck | ExchangeError) -> None:
        super().__init__()
        self.outcome = outcome

    async def check_account(self) -> AccountCheck:
        if isinstance(self.outcome, ExchangeError):
            raise self.outcome
        return self.outcome


def binance(user_id: str, **changes: str | None) -> ConnectExchangeCommand:
    command = ConnectExchangeCommand(user_id, "binanceusdm", api_key=KEY, api_secret=SECRET)
    return replace(command, **changes)


async def test_credentials_are_sealed_for_this_user_and_connection(people: People) -> None:
    alice = await people.user()
    account = await people.connect()(binance(alice.id, password="pass-phrase"))

    assert account.api_key_masked == "AbCd...1234"
    assert account.validation_status is ValidationStatus.UNCHECKED
    token = people.credentials.tokens[account.id]
    assert people.box.open(token, user_id=alice.id, account_id=account.id) == ApiCredentials(
        KEY, SECRET, "pass-phrase"
    )
    assert people.validations.enqueued == [account.id]
    assert people.paper.opened == []
    assert SECRET not in repr(account)
    assert KEY not in repr(account)


@pytest.mark.parametrize(
    ("changes", "field_name"),
    [
        ({"api_key": None}, "api_key"),
        ({"api_key": "   "}, "api_key"),
        ({"api_secret": None}, "api_secret"),
        ({"api_secret": "x" * 513}, "api_secret"),
        ({"password": "line\nbreak"}, "password"),
        ({"exchange": "notanexchange"}, "exchange"),
    ],
)
async def test_live_exchanges_need_keys(
    people: People, changes: dict[str, str | None], field_name: str
) -> None:
    alice = await people.user()
    with pytest.raises(InvalidField) as caught:
        await people.connect()(binance(alice.id, **changes))
    assert caught.value.field == field_name
    assert SECRET not in str(caught.value)
    assert await people.accounts.list_by_status(None) == []
    assert people.credentials.tokens == {}
    assert people.validations.enqueued == []


async def test_approval_and_rejection_are_told_to_the_follower(people: People) -> None:
    alice = await people.user()
    first = await people.connect()(binance(alice.id))
    second = await people.connect()(binance(alice.id, label="second"))

    await people.review().approve(first.id)
    await people.review().approve(first.id)  # no change: nothing more to tell
    await people.review().reject(second.id, "the key allows withdrawals")

    assert [(user, event) for user, event, _ in people.notifier.sent] == [
        (alice.id, "exchange.approved"),
        (alice.id, "exchange.rejected"),
    ]
    assert "the key allows withdrawals" in people.notifier.sent[1][2]


def validate(people: People) -> ValidateConnection:
    return ValidateConnection(
        people.accounts, people.checks, people.gateways, people.tx, people.clock, people.notifier
    )


@pytest.mark.parametrize(
    ("outcome", "status", "detail", "told"),
    [
        (AccountCheck(ok=True, detail="futures enabled"), ValidationStatus.VALID, "futures", True),
        (AccountCheck(ok=False, detail="no futures"), ValidationStatus.INVALID, "no futures", True),
        (AuthRejected("Invalid API-key"), ValidationStatus.INVALID, "Invalid API-key", True),
        (ExchangeUnavailable("503"), ValidationStatus.UNCHECKED, "will retry: 503", False),
    ],
)
async def test_the_check_records_what_the_exchange_said(
    people: People,
    outcome: AccountCheck | ExchangeError,
    status: ValidationStatus,
    detail: str,
    told: bool,
) -> None:
    alice = await people.user()
    account = await people.connect()(binance(alice.id))
    people.gateways.add(account.id, CheckedExchange(outcome))
    people.clock.advance(timedelta(seconds=5))

    checked = await validate(people)(account.id)

    stored = await people.accounts.get(account.id)
    assert checked is not None
    assert stored is not None
    assert (stored.validation_status, stored.validated_at) == (status, people.clock.now())
    assert detail in (stored.validation_detail or "")
    assert bool(people.notifier.sent) is told


async def test_an_outage_only_delays_the_check(people: People) -> None:
    alice = await people.user()
    account = await people.connect()(binance(alice.id))
    exchange = people.gateways.add(account.id, CheckedExchange(ExchangeUnavailable("down")))
    sweep = SweepUnvalidatedConnections(
        people.checks, people.validations, people.clock, timedelta(seconds=60)
    )

    decided = await people.connect()(binance(alice.id, label="decided"))
    await people.review().reject(decided.id, "duplicate")
    people.validations.enqueued.clear()

    await validate(people)(account.id)
    assert await sweep() == []  # tried just now: not yet
    people.clock.advance(timedelta(seconds=61))
    assert await sweep() == [account.id]  # the decided one has nothing left to learn

    assert isinstance(exchange, CheckedExchange)
    exchange.outcome = AccountCheck(ok=True, detail="ok now")
    await validate(people)(account.id)
    people.clock.advance(timedelta(minutes=5))
    assert await sweep() == []
    stored = await people.accounts.get(account.id)
    assert stored is not None
    assert stored.validation_status is ValidationStatus.VALID
    assert people.validations.enqueued == [account.id]


async def test_rotation_reseals_every_token_and_skips_what_changed(people: People) -> None:
    alice = await people.user()
    accounts = [await people.connect()(binance(alice.id, label=f"a{n}")) for n in range(5)]
    people.box.generation = 2
    current = await people.connect()(binance(alice.id, label="new"))
    # A row whose token was copied from another connection cannot be read.
    people.credentials.tokens[accounts[4].id] = people.credentials.tokens[accounts[3].id]

    class RacingRepository(type(people.credentials)):  # type: ignore[misc]
        """The follower re-enters accounts[0]'s keys between the read and the swap."""

        async def replace(self, account_id: str, old_token: str, new_token: str) -> bool:
            if account_id == accounts[0].id:
                self.tokens[account_id] = "sealed-by-the-follower"
            return await super().replace(account_id, old_token, new_token)

    racing = RacingRepository(people.accounts)
    racing.tokens = people.credentials.tokens
    report = await RotateCredentialKeys(racing, people.box, people.tx)(batch_size=2)

    assert (report.scanned, report.rotated, report.already_current, report.changed_meanwhile) == (
        6,
        3,
        1,
        1,
    )
    assert report.unreadable == [accounts[4].id]
    assert not report.ok
    for account in (*accounts[1:4], current):
        token = people.credentials.tokens[account.id]
        rotated = LabelledBox(generation=2).rotate(token, user_id=alice.id, account_id=account.id)
        assert rotated is None
    assert people.credentials.tokens[accounts[0].id] == "sealed-by-the-follower"
    assert people.tx.commits >= 3


async def test_a_deleted_connection_is_not_checked(people: People) -> None:
    assert await validate(people)("deleted-meanwhile") is None
    assert people.notifier.sent == []
