"""First start: the admin account, the default master's webhook passphrase, default plans."""

import secrets
import uuid
from dataclasses import dataclass

from mimic.application.plans import seed_default_plans
from mimic.application.receive_signal import passphrase_hash
from mimic.application.register_user import RegisterUser, RegisterUserCommand
from mimic.application.signal_sources import new_passphrase
from mimic.domain.accounts import Role, SignalSource
from mimic.ports.payments import PlanRepository
from mimic.ports.repositories import SignalSourceRepository, TransactionManager, UserRepository

ADMIN_USERNAME = "admin"
DEFAULT_SOURCE_NAME = "default"


@dataclass(frozen=True, slots=True)
class BootstrapResult:
    """Secrets appear here only when this start generated them, so they can be shown once."""

    generated_admin_password: str | None
    generated_webhook_passphrase: str | None
    created_admin: bool
    created_source: bool
    # Whether the configured MIMIC_WEBHOOK_PASSPHRASE opens an active source (one set after
    # the first start does not: sources are rotated, not re-seeded).
    configured_passphrase_in_force: bool = False


class BootstrapPlatform:
    def __init__(
        self,
        users: UserRepository,
        sources: SignalSourceRepository,
        register: RegisterUser,
        tx: TransactionManager,
        plans: PlanRepository,
    ) -> None:
        self._users = users
        self._sources = sources
        self._register = register
        self._tx = tx
        self._plans = plans

    async def __call__(
        self, admin_password: str | None, webhook_passphrase: str | None
    ) -> BootstrapResult:
        generated_password = generated_passphrase = None
        created_admin = created_source = False
        if await self._users.get_by_username(ADMIN_USERNAME) is None:
            if not admin_password:
                admin_password = generated_password = secrets.token_urlsafe(18)
            await self._register(
                RegisterUserCommand(
                    username=ADMIN_USERNAME,
                    email="admin@localhost.localdomain",
                    password=admin_password,
                    role=Role.ADMIN,
                )
            )
            created_admin = True
        if await self._sources.count() == 0:
            if not webhook_passphrase:
                webhook_passphrase = generated_passphrase = new_passphrase()
            await self._sources.add(
                SignalSource(
                    id=uuid.uuid4().hex,
                    name=DEFAULT_SOURCE_NAME,
                    passphrase_hash=passphrase_hash(webhook_passphrase),
                )
            )
            await self._tx.commit()
            created_source = True
        if await seed_default_plans(self._plans):
            await self._tx.commit()
        in_force = False
        if webhook_passphrase:
            source = await self._sources.get_by_passphrase_hash(passphrase_hash(webhook_passphrase))
            in_force = source is not None and source.active
        return BootstrapResult(
            generated_password, generated_passphrase, created_admin, created_source, in_force
        )
