"""dishka provider of the guardrails, portfolio sync, reports, copy fidelity and pre-flight
preview."""

from dishka import Provider, Scope, provide

from mimic.adapters.sqlalchemy.fidelity import SqlFidelityReader
from mimic.adapters.sqlalchemy.performance import (
    SqlBalanceSnapshotRepository,
    SqlFillRepository,
    SqlGuardrailRepository,
)
from mimic.application.copy_fidelity import RecentFidelity, ViewCopyFidelity
from mimic.application.guardrails import DailyGuardrails
from mimic.application.performance_reports import TradeCache, ViewPerformance
from mimic.application.portfolio_sync import SyncPortfolio
from mimic.application.preview_signal import PreviewSignal
from mimic.application.signal_planning import SignalPlanner
from mimic.ports.fidelity import FidelityReader
from mimic.ports.performance import (
    BalanceSnapshotRepository,
    FillRepository,
    GuardrailRepository,
)


class PerformanceProvider(Provider):
    scope = Scope.REQUEST

    guardrail_days = provide(SqlGuardrailRepository, provides=GuardrailRepository)
    fills = provide(SqlFillRepository, provides=FillRepository)
    snapshots = provide(SqlBalanceSnapshotRepository, provides=BalanceSnapshotRepository)
    guardrails = provide(DailyGuardrails)
    sync = provide(SyncPortfolio)
    performance = provide(ViewPerformance)
    trade_cache = provide(TradeCache, scope=Scope.APP)
    planner = provide(SignalPlanner)
    preview = provide(PreviewSignal)
    fidelity_reader = provide(SqlFidelityReader, provides=FidelityReader)
    fidelity = provide(ViewCopyFidelity)

    @provide(scope=Scope.APP)
    def recent_fidelity(self) -> RecentFidelity:
        return RecentFidelity()
