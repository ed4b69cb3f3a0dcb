"""Prints each fault's recovery time at the end of the run, whatever pytest captured."""

import pytest

from tests.integration.faults.scenario import RECOVERY_TIMES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if RECOVERY_TIMES:
        terminalreporter.section("fault suite: recovery to the first order placed")
        for line in RECOVERY_TIMES:
            terminalreporter.write_line(line)
