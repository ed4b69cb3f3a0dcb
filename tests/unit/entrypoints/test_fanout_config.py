"""MIMIC_FANOUT_PARTS: how many parts each signal's fan-out is split into."""

from pathlib import Path

import pytest

from mimic.entrypoints.config import Settings


@pytest.fixture(autouse=True)
def quiet_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MIMIC_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("MIMIC_SECRET_KEY", "k" * 48)
    monkeypatch.delenv("MIMIC_FANOUT_PARTS", raising=False)


def test_one_part_by_default() -> None:
    assert Settings.from_env().fanout_parts == 1


def test_parts_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIMIC_FANOUT_PARTS", "4")
    assert Settings.from_env().fanout_parts == 4


@pytest.mark.parametrize("value", ["0", "17", "-1"])
def test_impossible_part_counts_are_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("MIMIC_FANOUT_PARTS", value)
    with pytest.raises(ValueError, match="MIMIC_FANOUT_PARTS must be between 1 and 16"):
        Settings.from_env()
