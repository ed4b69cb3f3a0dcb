"""Hands each fault's recovery time to the test's report, which tests/conftest.py prints at
the end of the run, whatever pytest captured (and from whichever pytest-xdist worker)."""

from collections.abc import Iterator

import pytest

from tests.conftest import RECOVERY_PROPERTY
from tests.integration.faults.scenario import RECOVERY_TIMES


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    before = len(RECOVERY_TIMES)
    yield
    item.user_properties.extend((RECOVERY_PROPERTY, line) for line in RECOVERY_TIMES[before:])
