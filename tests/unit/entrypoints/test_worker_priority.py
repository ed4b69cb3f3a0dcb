"""MIMIC_WORKER_NICE: `mimic worker` at a lower OS priority than the intake it shares cores with."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mimic.entrypoints.config import Settings


@pytest.fixture(autouse=True)
def quiet_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MIMIC_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("MIMIC_SECRET_KEY", "k" * 48)
    monkeypatch.delenv("MIMIC_WORKER_NICE", raising=False)


def test_the_usual_priority_by_default() -> None:
    assert Settings.from_env().worker_nice == 0


def test_niceness_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIMIC_WORKER_NICE", "10")
    assert Settings.from_env().worker_nice == 10


@pytest.mark.parametrize("value", ["-1", "20"])
def test_impossible_niceness_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("MIMIC_WORKER_NICE", value)
    with pytest.raises(ValueError, match="MIMIC_WORKER_NICE must be between 0 and 19"):
        Settings.from_env()


def _priorities_after(nice: int, *, started_at: int, own_session: bool) -> tuple[int, str]:
    """The niceness and autogroup lower_priority leaves a child process in, started at
    niceness `started_at` (a process cannot take back a priority it gave up)."""
    program = (
        "import os, pathlib; from mimic.entrypoints.worker.priority import lower_priority;"
        f"lower_priority({nice}); print(os.getpriority(os.PRIO_PROCESS, 0));"
        "autogroup = pathlib.Path('/proc/self/autogroup');"
        "print(autogroup.read_text().strip() if autogroup.exists() else 'none')"
    )
    ran = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=lambda: os.nice(started_at),
        start_new_session=own_session,
    )
    niceness, autogroup = ran.stdout.splitlines()
    return int(niceness), autogroup


def test_a_worker_lowers_its_priority() -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)
    niceness, _ = _priorities_after(base + 5, started_at=0, own_session=False)
    assert niceness == base + 5


def test_a_lower_priority_given_by_the_os_is_kept() -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)
    niceness, _ = _priorities_after(base + 2, started_at=5, own_session=False)
    assert niceness == base + 5


def test_a_worker_leading_its_session_lowers_the_session_too() -> None:
    _, autogroup = _priorities_after(7, started_at=0, own_session=True)
    assert autogroup == "none" or autogroup.endswith(" nice 7")


def test_a_worker_in_another_session_leaves_that_session_alone() -> None:
    _, before = _priorities_after(0, started_at=0, own_session=False)
    _, after = _priorities_after(7, started_at=0, own_session=False)
    assert after == before
