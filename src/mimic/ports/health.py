"""Whether the services the platform stands on answer: for readiness and for the webhook's 503."""

from typing import Protocol


class DependencyProbe(Protocol):
    """One service the platform needs (the database, Redis), asked whether it answers now."""

    @property
    def dependency(self) -> str:
        """Its name in readiness answers and metrics labels: "database", "redis"."""
        ...

    async def problem(self) -> str | None:
        """None when it answers, else what went wrong (a kind of error, never a secret);
        bounded in time: a service that hangs is a problem, not a wait."""
        ...


class StoreOutages(Protocol):
    def is_outage(self, exc: BaseException) -> bool:
        """Whether `exc` says the store could not be reached or dropped the connection
        (down, restarting), rather than that what we asked of it was wrong."""
        ...
