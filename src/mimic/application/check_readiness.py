"""Readiness: whether every service the platform needs answers (GET /health/ready, metrics)."""

from collections.abc import Sequence

from mimic.ports.health import DependencyProbe


class CheckReadiness:
    def __init__(self, probes: Sequence[DependencyProbe]) -> None:
        self._probes = probes

    async def __call__(self) -> dict[str, str | None]:
        """Each dependency -> None when it answers, else what went wrong; in probe order."""
        return {probe.dependency: await probe.problem() for probe in self._probes}
