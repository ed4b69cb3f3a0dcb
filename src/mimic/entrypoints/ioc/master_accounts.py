"""Wiring of masters' own exchange accounts as signal sources."""

from dishka import Provider, Scope, provide
from sqlalchemy.ext.asyncio import AsyncSession

from mimic.adapters.sqlalchemy.master_accounts import (
    SqlMasterAccountRepository,
    SqlMasterCredentials,
)
from mimic.application.master_accounts import CopyMasterFills, ManageMasterAccounts
from mimic.application.rotate_keys import RotateCredentialKeys
from mimic.entrypoints.config import Settings
from mimic.ports.credentials import CredentialRepository, SecretBox
from mimic.ports.exchange import ExchangeGateways
from mimic.ports.master_accounts import MasterAccountRepository
from mimic.ports.repositories import SignalRepository, SignalSourceRepository, TransactionManager
from mimic.ports.services import Clock, SignalQueue


class MasterAccountsProvider(Provider):
    scope = Scope.REQUEST

    masters = provide(SqlMasterAccountRepository, provides=MasterAccountRepository)
    manage = provide(ManageMasterAccounts)

    @provide
    def rotate_keys(
        self,
        credentials: CredentialRepository,
        box: SecretBox,
        tx: TransactionManager,
        session: AsyncSession,
    ) -> RotateCredentialKeys:
        """Followers' keys, then masters': one rotation re-encrypts every stored secret."""
        return RotateCredentialKeys(credentials, box, tx, more=[SqlMasterCredentials(session)])

    @provide
    def copy_master_fills(
        self,
        masters: MasterAccountRepository,
        sources: SignalSourceRepository,
        signals: SignalRepository,
        gateways: ExchangeGateways,
        tx: TransactionManager,
        queue: SignalQueue,
        clock: Clock,
        settings: Settings,
    ) -> CopyMasterFills:
        return CopyMasterFills(
            masters,
            sources,
            signals,
            gateways,
            tx,
            queue,
            clock,
            fanout_parts=settings.fanout_parts,
        )
