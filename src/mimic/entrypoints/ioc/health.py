"""Readiness probes and the store's outages, for /health/ready, /metrics and the webhook."""

from dishka import Provider, Scope, provide
from sqlalchemy.ext.asyncio import AsyncSession

from mimic.adapters.redis.health import RedisProbe
from mimic.adapters.sqlalchemy.health import DatabaseProbe, SqlStoreOutages
from mimic.application.check_readiness import CheckReadiness
from mimic.entrypoints.config import Settings
from mimic.ports.health import DependencyProbe, StoreOutages


class HealthProvider(Provider):
    store_outages = provide(SqlStoreOutages, provides=StoreOutages, scope=Scope.APP)

    @provide(scope=Scope.REQUEST)
    def check_readiness(self, session: AsyncSession, settings: Settings) -> CheckReadiness:
        probes: list[DependencyProbe] = [DatabaseProbe(session)]
        if settings.redis_url is not None:  # embedded mode runs without Redis
            probes.append(RedisProbe(settings.redis_url))
        return CheckReadiness(probes)
