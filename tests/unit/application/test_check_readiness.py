"""CheckReadiness asks every dependency and says which one does not answer."""

from mimic.application.check_readiness import CheckReadiness
from tests.fakes.health import FakeProbe


async def test_every_dependency_answering_is_ready() -> None:
    probes = [FakeProbe("database"), FakeProbe("redis")]

    assert await CheckReadiness(probes)() == {"database": None, "redis": None}
    assert [probe.asked for probe in probes] == [1, 1]


async def test_a_silent_dependency_is_named_with_its_problem_in_probe_order() -> None:
    check = CheckReadiness([FakeProbe("database"), FakeProbe("redis", "TimeoutError")])

    assert list((await check()).items()) == [("database", None), ("redis", "TimeoutError")]
