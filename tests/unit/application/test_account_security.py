"""Password policy, lockout, token revocation rules, reset codes, admin edits, throttling."""

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from mimic.adapters.rate_limit import MemoryRateLimiter
from mimic.adapters.system import BoundedPasswordHasher
from mimic.application.audit_trail import RequestContext
from mimic.application.authenticate_user import AuthenticateUser, Credentials
from mimic.application.manage_users import ManageUsers, UserEdit
from mimic.application.password_policy import check_password_policy, common_passwords
from mimic.application.passwords import (
    ChangePassword,
    PasswordChange,
    PasswordReset,
    RequestPasswordReset,
    ResetPassword,
    SignOut,
)
from mimic.application.register_user import RegisterUser, RegisterUserCommand
from mimic.application.throttle import Limit, RateLimits, Throttle
from mimic.domain.accounts import Role, User
from mimic.domain.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidCode,
    InvalidField,
    PermissionDenied,
    TooManyRequests,
)
from mimic.domain.lockout import LockoutPolicy
from mimic.entrypoints.config import Settings
from tests.fakes.accounts import InMemoryPasswordResetTokens
from tests.fakes.repositories.audit import InMemoryAuditLog
from tests.fakes.repositories.transactions import FakeTransactionManager
from tests.fakes.repositories.users import InMemoryUserRepository
from tests.fakes.services import FixedClock, PlainPasswordHasher

PASSWORD = "s3cret-passw0rd"
NEW_PASSWORD = "a brand new passphrase"
HERE = RequestContext(ip="203.0.113.7")


# --- password policy ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short", "at least 10 characters"),
        ("x" * 257, "at most 256 characters"),
        ("password123", "most common passwords"),
        ("QWERTYUIOP", "most common passwords"),  # any case
        ("1234567890", "most common passwords"),
    ],
)
def test_password_policy_refuses_with_a_reason(password: str, why: str) -> None:
    with pytest.raises(InvalidField) as caught:
        check_password_policy(password, "new_password")
    assert caught.value.field == "new_password"
    assert why in caught.value.message


def test_password_policy_accepts_a_long_uncommon_password() -> None:
    check_password_policy("correct horse battery staple")
    check_password_policy("y" * 256)


def test_the_common_password_list_is_shipped_in_full() -> None:
    assert len(common_passwords()) > 19_000
    assert {"123456", "password", "iloveyou"} <= common_passwords()


# --- lockout policy -------------------------------------------------------------------------


def test_lockout_doubles_after_the_threshold_up_to_the_longest() -> None:
    policy = LockoutPolicy(
        threshold=3, first_lock=timedelta(minutes=1), longest_lock=timedelta(minutes=5)
    )
    locks = [policy.lock_for(n) for n in range(1, 8)]
    minutes = [None if lock is None else lock / timedelta(minutes=1) for lock in locks]
    assert minutes == [None, None, 1, 2, 4, 5, 5]
    assert policy.lock_for(10_000) == timedelta(minutes=5)


# --- interactors ----------------------------------------------------------------------------


@dataclass
class Desk:
    clock: FixedClock = field(default_factory=FixedClock)
    users: InMemoryUserRepository = field(default_factory=InMemoryUserRepository)
    hasher: PlainPasswordHasher = field(default_factory=PlainPasswordHasher)
    tx: FakeTransactionManager = field(default_factory=FakeTransactionManager)
    audit: InMemoryAuditLog = field(default_factory=InMemoryAuditLog)
    resets: InMemoryPasswordResetTokens = field(default_factory=InMemoryPasswordResetTokens)

    def authenticate(self) -> AuthenticateUser:
        return AuthenticateUser(
            self.users, self.hasher, self.tx, self.audit, self.clock, LockoutPolicy()
        )

    def request_reset(self) -> RequestPasswordReset:
        return RequestPasswordReset(
            self.users,
            self.resets,
            self.audit,
            self.tx,
            self.clock,
            lifetime=timedelta(minutes=30),
            reset_url="http://mimic.test/reset",
        )

    def reset(self) -> ResetPassword:
        return ResetPassword(self.users, self.hasher, self.resets, self.audit, self.tx, self.clock)

    def change(self) -> ChangePassword:
        return ChangePassword(
            self.users, self.hasher, self.resets, self.audit, self.tx, self.clock, LockoutPolicy()
        )

    def manage(self) -> ManageUsers:
        return ManageUsers(self.users, self.audit, self.tx, self.clock)

    async def user(self, name: str = "alice", role: Role = Role.USER) -> User:
        register = RegisterUser(self.users, self.hasher, self.tx, self.clock)
        return await register(RegisterUserCommand(name, f"{name}@example.com", PASSWORD, role=role))

    async def actions(self) -> list[str]:
        """Sorted: events at the same (fixed) moment have no order of their own."""
        return sorted(e.action for e in await self.audit.list(limit=1000))


@pytest.fixture
def desk() -> Desk:
    return Desk()


async def test_failed_sign_ins_lock_and_a_lock_refuses_even_the_right_password(
    desk: Desk,
) -> None:
    alice = await desk.user()
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            await desk.authenticate()(Credentials("alice", "wrong password", HERE))
    verified = desk.hasher.verify_calls
    with pytest.raises(TooManyRequests) as caught:
        await desk.authenticate()(Credentials("alice", PASSWORD, HERE))
    assert 60 <= caught.value.retry_after_seconds <= 61
    assert desk.hasher.verify_calls == verified  # no guessing while locked
    assert await desk.actions() == sorted(
        ["auth.login_failed"] * 5 + ["auth.locked", "auth.login_blocked"]
    )
    [locked] = await desk.audit.list(action="auth.locked")
    assert (locked.ip, locked.target) == ("203.0.113.7", f"user:{alice.id}")

    desk.clock.advance(timedelta(seconds=61))
    with pytest.raises(AuthenticationFailed):
        await desk.authenticate()(Credentials("alice", "wrong again", HERE))
    stored = await desk.users.get(alice.id)
    assert stored is not None
    assert stored.locked_until == desk.clock.now() + timedelta(minutes=2)  # doubled

    desk.clock.advance(timedelta(minutes=3))
    await desk.authenticate()(Credentials("alice", PASSWORD, HERE))
    stored = await desk.users.get(alice.id)
    assert stored is not None
    assert (stored.failed_logins, stored.locked_until) == (0, None)


async def test_unknown_username_is_audited_without_revealing_anything(desk: Desk) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        await desk.authenticate()(Credentials("ghost", PASSWORD, HERE))
    assert str(caught.value) == "wrong username or password"
    [event] = await desk.audit.list()
    assert (event.action, event.actor_id, dict(event.details)) == (
        "auth.login_failed",
        None,
        {"username": "ghost"},
    )


async def test_sign_out_and_password_change_raise_the_token_version(desk: Desk) -> None:
    alice = await desk.user()
    await SignOut(desk.users, desk.audit, desk.tx, desk.clock)(alice.id, HERE)
    with pytest.raises(PermissionDenied):
        await desk.change()(PasswordChange(alice.id, "not it", NEW_PASSWORD))
    with pytest.raises(InvalidField):
        await desk.change()(PasswordChange(alice.id, PASSWORD, "password1"))
    changed = await desk.change()(PasswordChange(alice.id, PASSWORD, NEW_PASSWORD, HERE))
    assert changed.token_version == alice.token_version + 2
    assert changed.password_hash == "plain$" + NEW_PASSWORD
    assert await desk.actions() == ["auth.login_failed", "auth.logout", "auth.password_changed"]


async def test_a_wrong_current_password_counts_as_a_failed_sign_in(desk: Desk) -> None:
    alice = await desk.user()
    for _ in range(4):
        with pytest.raises(PermissionDenied):
            await desk.change()(PasswordChange(alice.id, "a guess", NEW_PASSWORD, HERE))
    with pytest.raises(AuthenticationFailed):  # the fifth guess, at the sign-in door
        await desk.authenticate()(Credentials("alice", "another guess", HERE))
    verified = desk.hasher.verify_calls
    with pytest.raises(TooManyRequests):  # locked: not even the right password is checked
        await desk.change()(PasswordChange(alice.id, PASSWORD, NEW_PASSWORD, HERE))
    with pytest.raises(TooManyRequests):
        await desk.authenticate()(Credentials("alice", PASSWORD, HERE))
    assert desk.hasher.verify_calls == verified
    stored = await desk.users.get(alice.id)
    assert stored is not None
    assert stored.password_hash == "plain$" + PASSWORD
    assert (await desk.actions()).count("auth.login_failed") == 5
    assert "auth.locked" in await desk.actions()


async def test_reset_code_is_single_use_and_expires(desk: Desk) -> None:
    alice = await desk.user()
    assert await desk.request_reset()("nobody@example.com", HERE) is None
    assert await desk.audit.list() == []
    mail = await desk.request_reset()(" ALICE@example.com ", HERE)
    assert mail is not None
    assert mail.to == "alice@example.com"
    code = next(line.strip() for line in mail.body.splitlines() if line.startswith("    "))
    # The link opens the web app's reset page with the code filled in.
    assert f"http://mimic.test/reset?code={code}" in mail.body

    with pytest.raises(InvalidCode):
        await desk.reset()(PasswordReset("wrong-code", NEW_PASSWORD))
    with pytest.raises(InvalidField):
        await desk.reset()(PasswordReset(code, "short"))
    user = await desk.reset()(PasswordReset(code, NEW_PASSWORD, HERE))
    assert user.token_version == alice.token_version + 1
    assert user.password_hash == "plain$" + NEW_PASSWORD
    with pytest.raises(InvalidCode):
        await desk.reset()(PasswordReset(code, "another new passphrase"))

    late = await desk.request_reset()("alice@example.com")
    assert late is not None
    late_code = next(line.strip() for line in late.body.splitlines() if line.startswith("    "))
    desk.clock.advance(timedelta(minutes=30))
    with pytest.raises(InvalidCode):
        await desk.reset()(PasswordReset(late_code, "and yet another passphrase"))


async def test_a_password_change_retires_open_reset_codes(desk: Desk) -> None:
    alice = await desk.user()
    mail = await desk.request_reset()("alice@example.com")
    assert mail is not None
    code = next(line.strip() for line in mail.body.splitlines() if line.startswith("    "))
    await desk.change()(PasswordChange(alice.id, PASSWORD, NEW_PASSWORD))
    with pytest.raises(InvalidCode):
        await desk.reset()(PasswordReset(code, "attacker's passphrase"))


async def test_admin_edits_and_soft_deletes_users(desk: Desk) -> None:
    admin = await desk.user("root", Role.ADMIN)
    bob = await desk.user("bob")
    as_admin = RequestContext(actor_id=admin.id, ip="10.0.0.1")
    edited = await desk.manage().edit(
        UserEdit(
            bob.id,
            frozenset({"role", "paused", "max_leverage"}),
            role=Role.ADMIN,
            paused=True,
            max_leverage=4,
            context=as_admin,
        )
    )
    assert (edited.role, edited.settings.paused, edited.caps.max_leverage) == (Role.ADMIN, True, 4)
    assert edited.token_version == bob.token_version + 1
    with pytest.raises(InvalidField):
        await desk.manage().edit(
            UserEdit(bob.id, frozenset({"max_risk_perc"}), max_risk_perc=Decimal(0))
        )
    with pytest.raises(Conflict):
        await desk.manage().edit(
            UserEdit(admin.id, frozenset({"active"}), active=False, context=as_admin)
        )
    with pytest.raises(Conflict):
        await desk.manage().delete(admin.id, as_admin)

    await desk.manage().delete(bob.id, as_admin)
    deleted = await desk.users.get(bob.id)
    assert deleted is not None
    assert deleted.deleted_at == desk.clock.now()
    assert not deleted.active
    page = await desk.manage().search(None, 0, 10)
    assert ([u.username for u in page.users], page.total) == (["root"], 1)
    with_deleted = await desk.manage().search("BO", 0, 10, include_deleted=True)
    assert [u.username for u in with_deleted.users] == ["bob"]
    assert await desk.actions() == ["user.deleted", "user.role_changed", "user.updated"]


# --- throttling -----------------------------------------------------------------------------


async def test_throttle_counts_per_key_and_says_when_to_retry() -> None:
    throttle = Throttle(MemoryRateLimiter(), RateLimits())
    limit = Limit(2, timedelta(minutes=1))
    await throttle.check("login", ("ip:a", limit))
    await throttle.check("login", ("ip:a", limit))
    await throttle.check("login", ("ip:b", limit))
    with pytest.raises(TooManyRequests) as caught:
        await throttle.check("login", ("ip:a", limit))
    assert 59 <= caught.value.retry_after_seconds <= 61


def test_limit_parse() -> None:
    assert Limit.parse("30/60") == Limit(30, timedelta(seconds=60))
    assert Limit.parse("5") == Limit(5, timedelta(seconds=60))
    for bad in ("0/60", "5/0", "many/60"):
        with pytest.raises(ValueError):  # noqa: PT011
            Limit.parse(bad)


def test_security_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MIMIC_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("MIMIC_RATE_LOGIN_PER_IP", "5/10")
    monkeypatch.setenv("MIMIC_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("MIMIC_TRUSTED_PROXIES", "10.0.0.0/8")
    monkeypatch.setenv("MIMIC_SMTP_HOST", "mail.example")
    monkeypatch.setenv("MIMIC_SMTP_TLS", "tls")
    monkeypatch.setenv("MIMIC_LOGIN_LOCKOUT_THRESHOLD", "3")
    settings = Settings.from_env()
    assert settings.rate_limits.login_per_ip == Limit(5, timedelta(seconds=10))
    assert settings.rate_limits.webhook_per_ip == RateLimits().webhook_per_ip
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.trusted_proxies == ("10.0.0.0/8",)
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_tls) == (
        "mail.example",
        587,
        "tls",
    )
    assert settings.lockout.threshold == 3
    monkeypatch.setenv("MIMIC_SMTP_TLS", "ssl")
    with pytest.raises(ValueError, match="MIMIC_SMTP_TLS"):
        Settings.from_env()


class GatedHasher(PlainPasswordHasher):
    """Holds every call until the test opens the gate; remembers how many ran at once."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.running = 0
        self.most_at_once = 0

    async def verify(self, password_hash: str, password: str) -> bool:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        await self.gate.wait()
        self.running -= 1
        return await super().verify(password_hash, password)


async def test_sixty_concurrent_guesses_hash_two_at_a_time_and_queue_three() -> None:
    inner = GatedHasher()
    hasher = BoundedPasswordHasher(inner, concurrency=2, waiting=3)
    guesses = [asyncio.create_task(hasher.verify("plain$x", f"guess {n}")) for n in range(60)]
    deadline = asyncio.get_running_loop().time() + 5
    while inner.running < 2:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0)
    for _ in range(100):  # give every other guess the chance to start, were it allowed to
        await asyncio.sleep(0)
    assert inner.running == 2
    turned_away = [task for task in guesses if task.done()]
    assert len(turned_away) == 55  # at once, holding nothing
    for task in turned_away:
        with pytest.raises(TooManyRequests):
            task.result()
    inner.gate.set()
    admitted = [task for task in guesses if task not in turned_away]
    assert await asyncio.gather(*admitted) == [False] * 5
    assert (inner.most_at_once, inner.verify_calls) == (2, 5)
    assert await hasher.verify("plain$x", "x")  # the queue empties: a later check gets in
