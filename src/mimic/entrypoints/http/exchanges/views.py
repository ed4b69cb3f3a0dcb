"""An exchange connection as the routes show it (the API key masked, never the secret)."""

from mimic.domain.accounts import ExchangeAccount
from mimic.entrypoints.http.exchanges.schemas import ExchangeOut


def exchange_out(account: ExchangeAccount) -> ExchangeOut:
    return ExchangeOut(
        id=account.id,
        user_id=account.user_id,
        exchange=account.exchange,
        label=account.label,
        status=account.status.value,
        enabled=account.enabled,
        api_key_masked=account.api_key_masked,
        status_reason=account.status_reason,
        created_at=account.created_at.isoformat(),
        validation_status=account.validation_status.value,
        validation_detail=account.validation_detail,
        validated_at=account.validated_at.isoformat() if account.validated_at else None,
    )
