"""Wiring of masters' own exchange accounts as signal sources."""

from dishka import Provider, Scope, provide

from mimic.adapters.sqlalchemy.master_accounts import SqlMasterAccountRepository
from mimic.application.master_accounts import CopyMasterFills, ManageMasterAccounts
from mimic.entrypoints.config import Settings
from mimic.ports.exchange import ExchangeGateways
from mimic.ports.master_accounts import MasterAccountRepository
from mimic.ports.repositories import SignalRepository, SignalSourceRepository, TransactionManager
from mimic.ports.services import Clock, SignalQueue


class MasterAccountsProvider(Provider):
    scope = Scope.REQUEST

    masters = provide(SqlMasterAccountRepository, provides=MasterAccountRepository)
    manage = provide(ManageMasterAccounts)

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
