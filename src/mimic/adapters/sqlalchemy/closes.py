"""Reduce-only closes kept outside order_intents (panic runs, guardrail close-alls)."""

from mimic.adapters.sqlalchemy.tables import NamedRow
from mimic.domain.orders import IntentStatus, OrderIntent, OrderLeg, OrderSide


def close_intent(row: NamedRow, signal_id: str) -> OrderIntent:
    """A row of a close table, which mirrors the intent columns a close needs, as an intent.

    `signal_id` names what the close answers ("panic:<run>", a guardrail trip).
    """
    return OrderIntent(
        id=row["id"],
        signal_id=signal_id,
        account_id=row["account_id"],
        user_id=row["user_id"],
        leg=OrderLeg.CLOSE,
        symbol=row["symbol"],
        side=OrderSide(row["side"]),
        quantity=row["quantity"],
        reduce_only=True,
        leverage=None,
        client_order_id=row["client_order_id"],
        created_at=row["created_at"],
        status=IntentStatus(row["status"]),
        reason=row["reason"],
        attempts=row["attempts"],
        exchange_order_id=row["exchange_order_id"],
        filled_quantity=row["filled_quantity"],
        average_price=row["average_price"],
        fee=row["fee"],
        updated_at=row["updated_at"],
    )
