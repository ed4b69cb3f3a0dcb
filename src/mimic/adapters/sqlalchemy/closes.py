"""Reduce-only closes kept outside order_intents (panic runs, guardrail close-alls)."""

from sqlalchemy import RowMapping, Table

from mimic.domain.orders import IntentStatus, OrderIntent, OrderLeg, OrderSide


def close_intent(row: RowMapping, table: Table, signal_id: str) -> OrderIntent:
    """A row of a close table, which mirrors the intent columns a close needs, as an intent.

    `signal_id` names what the close answers ("panic:<run>", a guardrail trip).
    """
    c = table.c
    return OrderIntent(
        id=row[c.id],
        signal_id=signal_id,
        account_id=row[c.account_id],
        user_id=row[c.user_id],
        leg=OrderLeg.CLOSE,
        symbol=row[c.symbol],
        side=OrderSide(row[c.side]),
        quantity=row[c.quantity],
        reduce_only=True,
        leverage=None,
        client_order_id=row[c.client_order_id],
        created_at=row[c.created_at],
        status=IntentStatus(row[c.status]),
        reason=row[c.reason],
        attempts=row[c.attempts],
        exchange_order_id=row[c.exchange_order_id],
        filled_quantity=row[c.filled_quantity],
        average_price=row[c.average_price],
        fee=row[c.fee],
        updated_at=row[c.updated_at],
    )
