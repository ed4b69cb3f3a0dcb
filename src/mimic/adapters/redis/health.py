"""Redis as a dependency: its readiness probe."""

from redis.asyncio import Redis

from mimic.ports.health import DependencyProbe


class RedisProbe(DependencyProbe):
    dependency = "redis"

    def __init__(self, url: str) -> None:
        self._url = url

    async def problem(self) -> str | None:
        # A client of its own, bounded: a hung Redis answers "not ready" within seconds.
        client = Redis.from_url(self._url, socket_connect_timeout=2, socket_timeout=2)
        try:
            await client.ping()
        except Exception as exc:
            return exc.__class__.__name__
        finally:
            await client.aclose()
        return None
