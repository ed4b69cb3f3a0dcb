"""People and settings: registration, login, follower settings, connections, first start."""

import re
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import pytest

from mimic.application.authenticate_user import AuthenticateUser, Credentials
from mimic.application.bootstrap import ADMIN_USERNAME, DEFAULT_SOURCE_NAME, BootstrapPlatform
from mimic.application.exchange_connections import (
    ConnectExchange,
    ConnectExchangeCommand,
    ListConnections,
    ManageConnection,
    ReviewConnection,
)
from mimic.application.follower_settings import SettingsChange, UpdateFollowerSettings
from mimic.application.platform_admin import ManagePlatformSettings, SetPaperPrice
from mimic.application.portfolio import ViewPortfolio
from mimic.application.receive_signal import passphrase_hash
from mimic.application.register_user import RegisterUser, RegisterUserCommand
from mimic.domain.accounts import ConnectionStatus, ExchangeAccount, Role, User
from mimic.domain.errors import (
    AuthenticationFailed,
    Conflict,
    ExchangeUnavailable,
    InvalidField,
    NotFound,
    TooManyRequests,
)
from mimic.domain.lockout import LockoutPolicy
from mimic.domain.positions import Balance, Position, PositionSide
from mimic.domain.quotas import Quotas
from mimic.domain.risk import FollowerRiskSettings, PlatformRiskSettings, UserCaps
from tests.fakes.credentials import (
    InMemoryConnectionChecks,
    InMemoryCredentialRepository,
    LabelledBox,
    RecordingValidationQueue,
)
from tests.fakes.exchange import FakeExchange, FakeGateways, FakePaperMarket, FakeSymbolCatalog
from tests.fakes.panic import InMemoryPanicCloses
from tests.fakes.payments import InMemoryPlanRepository
from tests.fakes.repositories.audit import InMemoryAuditLog
from tests.fakes.repositories.exchange_accounts import InMemoryExchangeAccountRepository
from tests.fakes.repositories.order_intents import InMemoryOrderIntentRepository
from tests.fakes.repositories.platform_settings import InMemorySettingsRepository
from tests.fakes.repositories.signals import (
    InMemorySignalRepository,
    InMemorySignalSourceRepository,
)
from tests.fakes.repositories.transactions import FakeTransactionManager
from tests.fakes.repositories.users import InMemoryUserRepository
from tests.fakes.services import START, FixedClock, PlainPasswordHasher, RecordingNotifier

D = Decimal
PASSWORD = "s3cret-passw0rd"


@dataclass
class People:
    clock: FixedClock = field(default_factory=FixedClock)
    users: InMemoryUserRepository = field(default_factory=InMemoryUserRepository)
    sources: InMemorySignalSourceRepository = field(default_factory=InMemorySignalSourceRepository)
    settings: InMemorySettingsRepository = field(default_factory=InMemorySettingsRepository)
    hasher: PlainPasswordHasher = field(default_factory=PlainPasswordHasher)
    tx: FakeTransactionManager = field(default_factory=FakeTransactionManager)
    gateways: FakeGateways = field(default_factory=FakeGateways)
    paper: FakePaperMarket = field(default_factory=FakePaperMarket)
    audit: InMemoryAuditLog = field(default_factory=InMemoryAuditLog)

    box: LabelledBox = field(default_factory=LabelledBox)
    validations: RecordingValidationQueue = field(default_factory=RecordingValidationQueue)
    notifier: RecordingNotifier = field(default_factory=RecordingNotifier)
    quotas: Quotas = field(default_factory=Quotas)

    def __post_init__(self) -> None:
        self.accounts = InMemoryExchangeAccountRepository(self.users)
        self.credentials = InMemoryCredentialRepository(self.accounts)
        self.checks = InMemoryConnectionChecks(self.accounts)

    def register(self) -> RegisterUser:
        return RegisterUser(self.users, self.hasher, self.tx, self.clock)

    def authenticate(self) -> AuthenticateUser:
        return AuthenticateUser(
            self.users, self.hasher, self.tx, self.audit, self.clock, LockoutPolicy()
        )

    def update_settings(self) -> UpdateFollowerSettings:
        return UpdateFollowerSettings(self.users, self.settings, self.tx, self.audit, self.clock)

    def review(self) -> ReviewConnection:
        return ReviewConnection(self.accounts, self.tx, self.audit, self.clock, self.notifier)

    def bootstrap(self) -> BootstrapPlatform:
        return BootstrapPlatform(
            self.users, self.sources, self.register(), self.tx, InMemoryPlanRepository()
        )

    def connect(self) -> ConnectExchange:
        return ConnectExchange(
            self.accounts,
            self.gateways,
            self.paper,
            self.tx,
            self.clock,
            self.box,
            self.credentials,
            self.validations,
            self.quotas,
        )

    async def user(self, name: str = "alice", **changes: object) -> User:
        user = await self.register()(
            RegisterUserCommand(username=name, email=f"{name}@example.com", password=PASSWORD)
        )
        for attribute, value in changes.items():
            setattr(user, attribute, value)
        await self.users.save(user)
        return user

    async def account(
        self, user: User, status: ConnectionStatus = ConnectionStatus.PENDING
    ) -> ExchangeAccount:
        account = ExchangeAccount(
            id=f"acct-{user.username}-{len(await self.accounts.list_for_user(user.id))}",
            user_id=user.id,
            exchange="paper",
            label="paper",
            created_at=self.clock.now(),
            status=status,
        )
        await self.accounts.add(account)
        return account


@pytest.fixture
def people() -> People:
    return People()


# --- RegisterUser ---------------------------------------------------------------------------


async def test_register_stores_a_hashed_user(people: People) -> None:
    user = await people.register()(
        RegisterUserCommand(username="Alice_1", email="  Alice@Example.COM ", password=PASSWORD)
    )

    assert (user.username, user.email, user.role) == ("Alice_1", "alice@example.com", Role.USER)
    assert user.password_hash == "plain$" + PASSWORD
    assert user.created_at == START
    assert user.active is True
    assert user.settings == FollowerRiskSettings()
    assert await people.users.get(user.id) == user
    assert people.tx.commits == 1


async def test_register_admin_role(people: People) -> None:
    user = await people.register()(
        RegisterUserCommand("root", "root@example.com", PASSWORD, role=Role.ADMIN)
    )
    assert user.is_admin


@pytest.mark.parametrize(
    ("username", "email", "password", "field_name"),
    [
        ("ab", "a@example.com", PASSWORD, "username"),
        ("a" * 33, "a@example.com", PASSWORD, "username"),
        ("bad name", "a@example.com", PASSWORD, "username"),
        ("bad!", "a@example.com", PASSWORD, "username"),
        ("", "a@example.com", PASSWORD, "username"),
        ("alice", "no-at-sign", PASSWORD, "email"),
        ("alice", "a@b", PASSWORD, "email"),
        ("alice", "a b@example.com", PASSWORD, "email"),
        ("alice", "a@@example.com", PASSWORD, "email"),
        ("alice", "x" * 65 + "@example.com", PASSWORD, "email"),
        ("alice", "a@" + "b" * 250 + ".com", PASSWORD, "email"),
        ("alice", "a@example.com", "short-pw!", "password"),
        ("alice", "a@example.com", "", "password"),
        ("alice", "a@example.com", "x" * 257, "password"),
    ],
)
async def test_register_rejects_invalid_input(
    people: People, username: str, email: str, password: str, field_name: str
) -> None:
    with pytest.raises(InvalidField) as caught:
        await people.register()(RegisterUserCommand(username, email, password))
    assert caught.value.field == field_name
    assert people.users.all() == []
    assert people.tx.commits == 0


@pytest.mark.parametrize("password", ["k7#Qw!pZ2m", "k7#Qw!pZ2m" * 25 + "abcdef"])
async def test_register_password_length_bounds(people: People, password: str) -> None:
    user = await people.register()(RegisterUserCommand("alice", "a@example.com", password))
    assert user.password_hash == "plain$" + password


async def test_register_rejects_a_username_with_a_trailing_newline(people: People) -> None:
    with pytest.raises(InvalidField) as caught:
        await people.register()(RegisterUserCommand("alice\n", "a@example.com", PASSWORD))
    assert caught.value.field == "username"


async def test_register_taken_username_or_email_conflicts(people: People) -> None:
    await people.user("alice")
    with pytest.raises(Conflict, match="username is taken"):
        await people.register()(RegisterUserCommand("alice", "other@example.com", PASSWORD))
    with pytest.raises(Conflict, match="email is already registered"):
        await people.register()(RegisterUserCommand("bob", "ALICE@example.com", PASSWORD))
    assert [u.username for u in people.users.all()] == ["alice"]


async def test_every_user_gets_a_distinct_referral_code(people: People) -> None:
    alice = await people.register()(RegisterUserCommand("alice", "a@example.com", PASSWORD))
    bob = await people.register()(RegisterUserCommand("bob", "b@example.com", PASSWORD))
    assert alice.referral_code is not None
    assert bob.referral_code is not None
    assert alice.referral_code != bob.referral_code
    assert re.fullmatch(r"[A-HJKMNP-Z2-9]{10}", alice.referral_code)
    assert alice.referred_by is None


async def test_register_with_a_referral_code_links_the_referrer(people: People) -> None:
    alice = await people.register()(RegisterUserCommand("alice", "a@example.com", PASSWORD))
    assert alice.referral_code is not None
    typed = f"  {alice.referral_code.lower()} "
    bob = await people.register()(
        RegisterUserCommand("bob", "b@example.com", PASSWORD, referral_code=typed)
    )
    assert bob.referred_by == alice.id
    stored = await people.users.get(bob.id)
    assert stored is not None
    assert stored.referred_by == alice.id


@pytest.mark.parametrize("code", ["NOSUCHCODE", "x"])
async def test_register_with_an_unknown_referral_code_changes_nothing(
    people: People, code: str
) -> None:
    with pytest.raises(InvalidField) as caught:
        await people.register()(
            RegisterUserCommand("bob", "b@example.com", PASSWORD, referral_code=code)
        )
    assert caught.value.field == "referral_code"
    assert people.users.all() == []


async def test_a_deactivated_referrer_code_is_refused(people: People) -> None:
    alice = await people.register()(RegisterUserCommand("alice", "a@example.com", PASSWORD))
    alice.active = False
    await people.users.save(alice)
    with pytest.raises(InvalidField, match="referral_code"):
        await people.register()(
            RegisterUserCommand("bob", "b@example.com", PASSWORD, referral_code=alice.referral_code)
        )


# --- AuthenticateUser -----------------------------------------------------------------------


async def test_authenticate_with_the_right_password(people: People) -> None:
    alice = await people.user("alice")
    commits = people.tx.commits
    assert await people.authenticate()(Credentials("alice", PASSWORD)) == alice
    assert people.tx.commits == commits + 1  # the audit event of the sign-in
    [event] = await people.audit.list(action="auth.login")
    assert (event.actor_id, event.target) == (alice.id, f"user:{alice.id}")


async def test_authenticate_wrong_password(people: People) -> None:
    await people.user("alice")
    with pytest.raises(AuthenticationFailed, match="wrong username or password"):
        await people.authenticate()(Credentials("alice", PASSWORD + "x"))


async def test_authenticate_unknown_user_costs_a_hash_too(people: People) -> None:
    hashes = people.hasher.hash_calls
    with pytest.raises(AuthenticationFailed, match="wrong username or password"):
        await people.authenticate()(Credentials("nobody", PASSWORD))
    assert people.hasher.hash_calls == hashes + 1


async def test_authenticate_inactive_user_fails_even_with_the_right_password(
    people: People,
) -> None:
    await people.user("alice", active=False)
    with pytest.raises(AuthenticationFailed, match="wrong username or password"):
        await people.authenticate()(Credentials("alice", PASSWORD))


async def test_authenticate_is_case_sensitive_on_username(people: People) -> None:
    await people.user("alice")
    with pytest.raises(AuthenticationFailed):
        await people.authenticate()(Credentials("ALICE", PASSWORD))


async def test_authenticate_rehashes_an_outdated_hash(people: People) -> None:
    alice = await people.user("alice", password_hash=PlainPasswordHasher.LEGACY_PREFIX + PASSWORD)
    commits = people.tx.commits

    await people.authenticate()(Credentials("alice", PASSWORD))

    stored = await people.users.get(alice.id)
    assert stored is not None
    assert stored.password_hash == "plain$" + PASSWORD
    assert people.tx.commits == commits + 1


# --- UpdateFollowerSettings -----------------------------------------------------------------


async def test_update_settings_changes_only_the_given_fields(people: People) -> None:
    alice = await people.user("alice", settings=FollowerRiskSettings(D(2), 7, paused=False))

    updated = await people.update_settings()(
        SettingsChange(
            alice.id,
            FollowerRiskSettings(risk_perc=D(5), leverage=99, paused=True),
            frozenset({"risk_perc"}),
        )
    )

    assert updated.settings == FollowerRiskSettings(risk_perc=D(5), leverage=7, paused=False)
    stored = await people.users.get(alice.id)
    assert stored is not None
    assert stored.settings == FollowerRiskSettings(risk_perc=D(5), leverage=7, paused=False)


async def test_update_settings_none_resets_to_the_default(people: People) -> None:
    alice = await people.user("alice", settings=FollowerRiskSettings(D(2), 7, paused=True))

    updated = await people.update_settings()(
        SettingsChange(alice.id, FollowerRiskSettings(), frozenset({"leverage", "paused"}))
    )

    assert updated.settings == FollowerRiskSettings(risk_perc=D(2), leverage=None, paused=False)


async def test_update_settings_ignores_unknown_fields(people: People) -> None:
    alice = await people.user("alice")
    updated = await people.update_settings()(
        SettingsChange(alice.id, FollowerRiskSettings(leverage=3), frozenset({"role", "leverage"}))
    )
    assert updated.settings == FollowerRiskSettings(leverage=3)
    assert updated.role is Role.USER


@pytest.mark.parametrize(
    ("values", "caps", "field_name", "message"),
    [
        (FollowerRiskSettings(risk_perc=D(11)), UserCaps(), "risk_perc", "must be at most 10"),
        (FollowerRiskSettings(risk_perc=D(0)), UserCaps(), "risk_perc", "greater than 0"),
        (FollowerRiskSettings(leverage=21), UserCaps(), "leverage", "must be at most 20"),
        (FollowerRiskSettings(leverage=5), UserCaps(max_leverage=4), "leverage", "at most 4"),
        (FollowerRiskSettings(risk_perc=D(3)), UserCaps(max_risk_perc=D(2)), "risk_perc", "2"),
    ],
)
async def test_update_settings_beyond_the_caps_is_refused(
    people: People,
    values: FollowerRiskSettings,
    caps: UserCaps,
    field_name: str,
    message: str,
) -> None:
    alice = await people.user("alice", caps=caps)
    commits = people.tx.commits
    with pytest.raises(InvalidField) as caught:
        await people.update_settings()(
            SettingsChange(alice.id, values, frozenset({"risk_perc", "leverage"}))
        )
    assert caught.value.field == field_name
    assert message in caught.value.message
    stored = await people.users.get(alice.id)
    assert stored is not None
    assert stored.settings == FollowerRiskSettings()
    assert people.tx.commits == commits


async def test_update_settings_follows_the_admins_current_caps(people: People) -> None:
    await people.settings.save_platform_risk(
        PlatformRiskSettings(max_risk_perc=D(3), max_leverage=10)
    )
    alice = await people.user("alice")
    with pytest.raises(InvalidField) as caught:
        await people.update_settings()(
            SettingsChange(alice.id, FollowerRiskSettings(risk_perc=D(4)), frozenset({"risk_perc"}))
        )
    assert caught.value.message == "must be at most 3 (the admin's cap)"


async def test_pausing_works_after_the_admin_lowered_the_caps(people: People) -> None:
    alice = await people.user("alice", settings=FollowerRiskSettings(risk_perc=D(8)))
    await people.settings.save_platform_risk(PlatformRiskSettings(max_risk_perc=D(5)))

    updated = await people.update_settings()(
        SettingsChange(alice.id, FollowerRiskSettings(paused=True), frozenset({"paused"}))
    )

    assert updated.settings.paused is True


async def test_update_settings_of_unknown_user(people: People) -> None:
    with pytest.raises(NotFound):
        await people.update_settings()(
            SettingsChange("ghost", FollowerRiskSettings(), frozenset({"paused"}))
        )


# --- exchange connections -------------------------------------------------------------------


async def test_approve_a_pending_connection(people: People) -> None:
    alice = await people.user()
    account = await people.account(alice)
    commits = people.tx.commits

    approved = await people.review().approve(account.id)

    assert (approved.status, approved.status_reason) == (ConnectionStatus.APPROVED, None)
    stored = await people.accounts.get(account.id)
    assert stored is not None
    assert stored.status is ConnectionStatus.APPROVED
    assert people.tx.commits == commits + 1
    candidates = await people.accounts.list_copy_candidates()
    assert [(a.id, u.id) for a, u in candidates] == [(account.id, alice.id)]


async def test_approving_twice_changes_nothing(people: People) -> None:
    account = await people.account(await people.user())
    review = people.review()
    await review.approve(account.id)
    commits = people.tx.commits
    assert (await review.approve(account.id)).status is ConnectionStatus.APPROVED
    assert people.tx.commits == commits


@pytest.mark.parametrize("reason", ["", "   "])
async def test_reject_needs_a_reason(people: People, reason: str) -> None:
    account = await people.account(await people.user())
    with pytest.raises(InvalidField) as caught:
        await people.review().reject(account.id, reason)
    assert caught.value.field == "reason"
    stored = await people.accounts.get(account.id)
    assert stored is not None
    assert stored.status is ConnectionStatus.PENDING


async def test_reject_keeps_the_trimmed_reason(people: People) -> None:
    account = await people.account(await people.user())
    review = people.review()

    rejected = await review.reject(account.id, "  API key has withdrawal rights  ")

    assert rejected.status is ConnectionStatus.REJECTED
    assert rejected.status_reason == "API key has withdrawal rights"
    stored = await people.accounts.get(account.id)
    assert stored == rejected
    assert await people.accounts.list_copy_candidates() == []


async def test_reject_reason_is_cut_to_500_characters(people: People) -> None:
    account = await people.account(await people.user())
    rejected = await people.review().reject(account.id, "x" * 600)
    assert rejected.status_reason == "x" * 500


async def test_a_rejected_connection_cannot_be_approved(people: People) -> None:
    account = await people.account(await people.user())
    review = people.review()
    await review.reject(account.id, "bad key")
    with pytest.raises(Conflict, match="only pending ones can be approved"):
        await review.approve(account.id)


async def test_an_approved_connection_can_be_rejected(people: People) -> None:
    account = await people.account(await people.user())
    review = people.review()
    await review.approve(account.id)
    rejected = await review.reject(account.id, "abuse")
    assert (rejected.status, rejected.status_reason) == (ConnectionStatus.REJECTED, "abuse")


async def test_review_of_unknown_connection(people: People) -> None:
    review = people.review()
    with pytest.raises(NotFound):
        await review.approve("missing")
    with pytest.raises(NotFound):
        await review.reject("missing", "why")


async def test_connect_paper_exchange(people: People) -> None:
    alice = await people.user()
    people.clock.advance(timedelta(minutes=1))

    account = await people.connect()(
        ConnectExchangeCommand(user_id=alice.id, exchange=" Paper ", api_key="abcd1234efgh5678")
    )

    assert (account.exchange, account.label, account.status) == (
        "paper",
        "paper",
        ConnectionStatus.PENDING,
    )
    assert account.api_key_masked == "abcd...5678"
    assert account.created_at == START + timedelta(minutes=1)
    assert await people.accounts.get(account.id) == account
    assert people.paper.opened == [account.id]


async def test_a_user_holds_at_most_the_connection_quota(people: People) -> None:
    people.quotas = Quotas(exchange_connections=2)
    alice, bob = await people.user(), await people.user("bob")
    first = await people.connect()(ConnectExchangeCommand(alice.id, "paper", label="one"))
    await people.connect()(ConnectExchangeCommand(alice.id, "paper", label="two"))
    with pytest.raises(TooManyRequests, match="at most 2 exchange connections"):
        await people.connect()(ConnectExchangeCommand(alice.id, "paper", label="three"))
    assert len(await people.accounts.list_for_user(alice.id)) == 2
    await people.connect()(ConnectExchangeCommand(bob.id, "paper"))  # a quota per user
    await ManageConnection(people.accounts, people.tx).delete(alice.id, first.id)
    await people.connect()(ConnectExchangeCommand(alice.id, "paper", label="three"))


@pytest.mark.parametrize(
    ("command", "field_name"),
    [
        (ConnectExchangeCommand("u", "kraken"), "exchange"),
        (ConnectExchangeCommand("u", "paper", label="   "), "label"),
        (ConnectExchangeCommand("u", "paper", label="x" * 65), "label"),
    ],
)
async def test_connect_rejects_bad_input(
    people: People, command: ConnectExchangeCommand, field_name: str
) -> None:
    with pytest.raises(InvalidField) as caught:
        await people.connect()(command)
    assert caught.value.field == field_name
    assert await people.accounts.list_by_status(None) == []


async def test_follower_manages_only_their_own_connections(people: People) -> None:
    alice = await people.user("alice")
    bob = await people.user("bob")
    account = await people.account(alice, ConnectionStatus.APPROVED)
    manage = ManageConnection(people.accounts, people.tx)

    with pytest.raises(NotFound):
        await manage.set_enabled(bob.id, account.id, enabled=False)
    disabled = await manage.set_enabled(alice.id, account.id, enabled=False)
    assert disabled.enabled is False
    assert [a.enabled for a in await ListConnections(people.accounts)(alice.id)] == [False]

    with pytest.raises(NotFound):
        await manage.delete(bob.id, account.id)
    await manage.delete(alice.id, account.id)
    assert await ListConnections(people.accounts)(alice.id) == []


async def test_list_connections_by_status(people: People) -> None:
    alice = await people.user()
    pending = await people.account(alice)
    approved = await people.account(alice, ConnectionStatus.APPROVED)
    listing = ListConnections(people.accounts)
    assert [a.id for a in await listing.by_status(ConnectionStatus.PENDING)] == [pending.id]
    assert [a.id for a in await listing.by_status(None)] == [pending.id, approved.id]


# --- platform admin -------------------------------------------------------------------------


async def test_platform_settings_are_replaced(people: People) -> None:
    manage = ManagePlatformSettings(people.settings, people.tx, people.audit, people.clock)
    assert await manage.get() == PlatformRiskSettings()
    new = PlatformRiskSettings(default_risk_perc=D(2), max_leverage=50)
    assert await manage.replace(new) == new
    assert await manage.get() == new
    assert people.tx.commits == 1


async def test_set_paper_price(people: People) -> None:
    setter = SetPaperPrice(people.paper, FakeSymbolCatalog())
    await setter("BTCUSDT", D("65000.5"))
    assert await people.paper.mark_prices() == {"BTCUSDT": D("65000.5")}
    for bad in (D(0), D(-1), D("NaN")):
        with pytest.raises(InvalidField) as caught:
            await setter("BTCUSDT", bad)
        assert caught.value.field == "price"
    with pytest.raises(InvalidField) as caught:
        await setter("FOOUSDT", D(1))
    assert caught.value.field == "symbol"


# --- portfolio ------------------------------------------------------------------------------


async def test_portfolio_reads_approved_accounts_and_reports_errors(people: People) -> None:
    alice = await people.user()
    good = await people.account(alice, ConnectionStatus.APPROVED)
    down = await people.account(alice, ConnectionStatus.APPROVED)
    await people.account(alice)  # pending: not shown
    exchange = people.gateways.add(
        good.id, FakeExchange(equity=D(1000), mark_prices={"BTCUSDT": D(66000)})
    )
    exchange.set_position("BTCUSDT", PositionSide.LONG, D("0.01"), entry_price=D(65000))
    broken = people.gateways.add(down.id, FakeExchange())
    broken.read_error = ExchangeUnavailable("maintenance")
    view = ViewPortfolio(
        people.accounts,
        InMemoryOrderIntentRepository(),
        people.gateways,
        InMemoryPanicCloses(),
        InMemorySignalRepository(),
    )

    positions = await view.positions(alice.id)
    balances = await view.balances(alice.id)

    assert [(p.account.id, p.positions, p.error) for p in positions] == [
        (
            good.id,
            [Position("BTCUSDT", PositionSide.LONG, D("0.01"), D(65000), 20, D(66000))],
            None,
        ),
        (down.id, [], "maintenance"),
    ]
    assert positions[0].positions[0].unrealized_pnl == D(10)
    assert [(b.account.id, b.balance, b.error) for b in balances] == [
        (good.id, Balance("USDT", D(1000), D(10), D(1010)), None),
        (down.id, None, "maintenance"),
    ]
    assert await view.orders(alice.id) == []
    # Both at once (the dashboard): the same answers, the exchange's error on each side.
    assert await view.holdings(alice.id) == (balances, positions)


# --- BootstrapPlatform ----------------------------------------------------------------------


async def test_bootstrap_generates_secrets_once(people: People) -> None:
    first = await people.bootstrap()(None, None)

    assert (first.created_admin, first.created_source) == (True, True)
    assert first.generated_admin_password is not None
    assert first.generated_webhook_passphrase is not None
    assert len(first.generated_admin_password) >= 20
    assert len(first.generated_webhook_passphrase) >= 30
    [admin] = people.users.all()
    assert (admin.username, admin.role) == (ADMIN_USERNAME, Role.ADMIN)
    assert admin.password_hash == "plain$" + first.generated_admin_password
    [source] = people.sources.all()
    assert source.name == DEFAULT_SOURCE_NAME
    assert source.passphrase_hash == passphrase_hash(first.generated_webhook_passphrase)

    again = await people.bootstrap()(None, None)

    assert again.generated_admin_password is None
    assert again.generated_webhook_passphrase is None
    assert (again.created_admin, again.created_source) == (False, False)
    assert len(people.users.all()) == 1
    assert await people.sources.count() == 1
    assert (
        await people.authenticate()(Credentials(ADMIN_USERNAME, first.generated_admin_password))
        == admin
    )


async def test_bootstrap_uses_the_given_secrets_and_returns_none(people: People) -> None:
    result = await people.bootstrap()("admin-password-123", "my webhook passphrase")

    assert result.generated_admin_password is None
    assert result.generated_webhook_passphrase is None
    assert (result.created_admin, result.created_source) == (True, True)
    [admin] = people.users.all()
    assert admin.password_hash == "plain$admin-password-123"
    [source] = people.sources.all()
    assert source.passphrase_hash == passphrase_hash("my webhook passphrase")


async def test_bootstrap_later_with_other_secrets_changes_nothing(people: People) -> None:
    await people.bootstrap()("admin-password-123", "first passphrase")
    result = await people.bootstrap()("another-password-456", "second passphrase")

    assert (result.created_admin, result.created_source) == (False, False)
    [admin] = people.users.all()
    assert admin.password_hash == "plain$admin-password-123"
    [source] = people.sources.all()
    assert source.passphrase_hash == passphrase_hash("first passphrase")


async def test_bootstrap_creates_only_what_is_missing(people: People) -> None:
    await people.bootstrap()("admin-password-123", "first passphrase")
    fresh = People(users=people.users)  # same users, no source yet

    result = await fresh.bootstrap()(None, None)

    assert (result.created_admin, result.created_source) == (False, True)
    assert result.generated_admin_password is None
    assert result.generated_webhook_passphrase is not None
    assert await fresh.sources.count() == 1


async def test_bootstrap_with_a_too_short_admin_password_fails(people: People) -> None:
    with pytest.raises(InvalidField) as caught:
        await people.bootstrap()("short", None)
    assert caught.value.field == "password"
    assert people.users.all() == []
