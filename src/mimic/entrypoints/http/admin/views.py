"""The platform's settings as the admin routes show them."""

from mimic.domain.risk import PlatformRiskSettings
from mimic.entrypoints.http.admin.schemas import PlatformSettingsBody


def platform_settings_out(value: PlatformRiskSettings) -> PlatformSettingsBody:
    return PlatformSettingsBody(
        default_risk_perc=value.default_risk_perc,
        default_leverage=value.default_leverage,
        max_risk_perc=value.max_risk_perc,
        max_leverage=value.max_leverage,
    )
