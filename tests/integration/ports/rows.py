"""Rows the repository tests store: valid, unique by default, changed by keyword."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from mimic.domain.accounts import ConnectionStatus, ExchangeAccount, Role, User
from mimic.domain.orders import OrderIntent, OrderLeg, OrderSide, client_order_id
from mimic.domain.signal import Signal, SignalAction, SignalParams

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(seconds=60)
TINY = Decimal("0.000000000000000001")
HUGE = Decimal("12345678901234567.5")
BODY_KEY = "body:" + "ab" * 32
SOURCE_ID = "s" * 32  # every store holds this source (signals reference it)


def new_id() -> str:
    return uuid.uuid4().hex


def make_user(name: str, **changes: object) -> User:
    user = User(
        id=new_id(),
        username=name,
        email=f"{name}@example.com",
        password_hash="argon2-hash",
        role=Role.USER,
        created_at=NOW,
    )
    for field, value in changes.items():
        setattr(user, field, value)
    return user


def make_signal(
    key: str = BODY_KEY, *, received_at: datetime = NOW, symbol: str = "BTCUSDT"
) -> Signal:
    return Signal(
        id=new_id(),
        source_id=SOURCE_ID,
        params=SignalParams(symbol=symbol, action=SignalAction.LONG),
        dedupe_key=key,
        received_at=received_at,
    )


def make_account(user: User, status: ConnectionStatus, **changes: object) -> ExchangeAccount:
    account = ExchangeAccount(
        id=new_id(), user_id=user.id, exchange="paper", label="main", created_at=NOW
    )
    account.status = status
    for field, value in changes.items():
        setattr(account, field, value)
    return account


def make_intent(signal: Signal, account_id: str, leg: OrderLeg = OrderLeg.ENTRY) -> OrderIntent:
    return OrderIntent(
        id=new_id(),
        signal_id=signal.id,
        account_id=account_id,
        user_id="u" * 32,
        leg=leg,
        symbol=signal.params.symbol,
        side=OrderSide.BUY,
        quantity=HUGE,
        reduce_only=False,
        leverage=5,
        client_order_id=client_order_id(signal.id, account_id, leg),
        created_at=NOW,
    )
