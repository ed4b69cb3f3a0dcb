"""The account streams' batch recorder: MIMIC_STREAM_RECORD_BATCH and
MIMIC_STREAM_FLAT_GRACE_MS."""

from datetime import timedelta
from pathlib import Path

import pytest

from mimic.entrypoints.config import Settings


@pytest.fixture(autouse=True)
def quiet_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MIMIC_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("MIMIC_SECRET_KEY", "k" * 48)
    monkeypatch.delenv("MIMIC_STREAM_RECORD_BATCH", raising=False)
    monkeypatch.delenv("MIMIC_STREAM_FLAT_GRACE_MS", raising=False)


def test_1000_accounts_a_batch_and_2_seconds_of_grace_by_default() -> None:
    settings = Settings.from_env()
    assert (settings.stream_record_batch, settings.stream_flat_grace) == (
        1000,
        timedelta(seconds=2),
    )


def test_both_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIMIC_STREAM_RECORD_BATCH", "200")
    monkeypatch.setenv("MIMIC_STREAM_FLAT_GRACE_MS", "750")
    settings = Settings.from_env()
    assert (settings.stream_record_batch, settings.stream_flat_grace) == (
        200,
        timedelta(milliseconds=750),
    )


@pytest.mark.parametrize("value", ["0", "-5"])
def test_a_batch_of_no_account_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("MIMIC_STREAM_RECORD_BATCH", value)
    with pytest.raises(ValueError, match="MIMIC_STREAM_RECORD_BATCH must be 1 or more"):
        Settings.from_env()
