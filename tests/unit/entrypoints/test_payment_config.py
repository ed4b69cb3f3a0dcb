"""Payment settings read from the environment, and the callback URL built from them."""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from mimic.entrypoints.config import Settings


@pytest.fixture(autouse=True)
def quiet_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MIMIC_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("MIMIC_SECRET_KEY", "k" * 48)
    for name in (
        "MIMIC_PLISIO_API_KEY",
        "MIMIC_PLISIO_BASE_URL",
        "MIMIC_PUBLIC_URL",
        "MIMIC_REQUIRE_SUBSCRIPTION",
        "MIMIC_REFERRAL_COMMISSION_PERCENT",
        "MIMIC_SUBSCRIPTION_CHECK_SECONDS",
    ):
        monkeypatch.delenv(name, raising=False)


def test_payments_are_off_and_free_by_default() -> None:
    settings = Settings.from_env()
    assert settings.plisio_api_key is None
    assert settings.plisio_base_url == "https://api.plisio.net"
    assert settings.require_subscription is False
    assert settings.referral_commission_perc == Decimal(10)


def test_payment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIMIC_PLISIO_API_KEY", "secret-plisio-key")
    monkeypatch.setenv("MIMIC_PLISIO_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("MIMIC_PUBLIC_URL", "https://copy.example.org/")
    monkeypatch.setenv("MIMIC_REQUIRE_SUBSCRIPTION", "True")
    monkeypatch.setenv("MIMIC_REFERRAL_COMMISSION_PERCENT", "12.5")
    monkeypatch.setenv("MIMIC_SUBSCRIPTION_CHECK_SECONDS", "30")
    settings = Settings.from_env()
    assert settings.plisio_api_key == "secret-plisio-key"
    assert "secret-plisio-key" not in repr(settings)
    assert settings.plisio_base_url == "http://127.0.0.1:9"
    assert settings.require_subscription is True
    assert settings.referral_commission_perc == Decimal("12.5")
    assert settings.subscription_check_interval == timedelta(seconds=30)
    assert (
        settings.plisio_callback_url
        == "https://copy.example.org/api/payments/plisio/callback?json=true"
    )


def test_a_misspelt_boolean_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIMIC_REQUIRE_SUBSCRIPTION", "ture")
    with pytest.raises(ValueError, match="MIMIC_REQUIRE_SUBSCRIPTION"):
        Settings.from_env()
