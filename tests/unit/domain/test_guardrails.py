"""The daily guardrail rule, with numbers checked by hand."""

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from mimic.domain.errors import InvalidField
from mimic.domain.guardrails import (
    GuardrailDay,
    GuardrailSettings,
    TripKind,
    entry_block,
    newly_tripped,
    observe,
    utc_day,
)

STOP_5 = GuardrailSettings(drawdown_stop_perc=D(5))
LOCK_3 = GuardrailSettings(profit_lock_perc=D(3))
NOON = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def started(equity: str = "10000", at: datetime = NOON) -> GuardrailDay:
    return observe(STOP_5, None, account_id="a1", equity=D(equity), now=at)


def test_the_first_observation_of_a_utc_day_is_its_start() -> None:
    day = started("10000")
    assert (day.day, day.start_equity, day.trip) == (date(2024, 5, 1), D(10000), None)


def test_drawdown_stop_trips_at_exactly_x_percent_below_the_start() -> None:
    day = started()
    # 10000 x (1 - 5 %) = 9500: 9500.01 is 4.9999 % down, 9500 is 5 % down.
    assert observe(STOP_5, day, account_id="a1", equity=D("9500.01"), now=NOON).trip is None
    tripped = observe(STOP_5, day, account_id="a1", equity=D(9500), now=NOON)
    assert tripped.trip is not None
    assert tripped.trip.kind is TripKind.DRAWDOWN_STOP
    assert tripped.trip.at == NOON


def test_the_reason_names_equity_fall_and_start() -> None:
    # (10000 - 9480) / 10000 = 5.2 %
    tripped = observe(STOP_5, started(), account_id="a1", equity=D(9480), now=NOON)
    assert tripped.trip is not None
    assert tripped.trip.reason.startswith(
        "daily drawdown stop: equity 9,480.00 is 5.20% below today's start 10,000.00"
    )
    assert "no new entries until 00:00 UTC" in tripped.trip.reason


def test_profit_lock_trips_at_y_percent_above_the_start() -> None:
    day = observe(LOCK_3, None, account_id="a1", equity=D(10000), now=NOON)
    # 10000 x 1.03 = 10300
    assert observe(LOCK_3, day, account_id="a1", equity=D("10299.99"), now=NOON).trip is None
    tripped = observe(LOCK_3, day, account_id="a1", equity=D(10300), now=NOON)
    assert tripped.trip is not None
    assert tripped.trip.kind is TripKind.PROFIT_LOCK
    assert tripped.trip.reason.startswith(
        "daily profit lock: equity 10,300.00 is 3.00% above today's start 10,000.00"
    )


def test_switched_off_limits_never_trip() -> None:
    day = observe(GuardrailSettings(), None, account_id="a1", equity=D(10000), now=NOON)
    for equity in ("1", "1000000"):
        after = observe(GuardrailSettings(), day, account_id="a1", equity=D(equity), now=NOON)
        assert after.trip is None


def test_a_trip_holds_for_the_rest_of_the_day_even_if_equity_recovers() -> None:
    tripped = observe(STOP_5, started(), account_id="a1", equity=D(9000), now=NOON)
    later = NOON + timedelta(hours=11, minutes=59, seconds=59)  # 23:59:59
    recovered = observe(STOP_5, tripped, account_id="a1", equity=D(11000), now=later)
    assert recovered == tripped
    assert entry_block(recovered, later) == tripped.trip.reason  # type: ignore[union-attr]


def test_the_day_ends_at_midnight_utc() -> None:
    tripped = observe(STOP_5, started(), account_id="a1", equity=D(9000), now=NOON)
    last_second = datetime(2024, 5, 1, 23, 59, 59, tzinfo=UTC)
    midnight = datetime(2024, 5, 2, 0, 0, 0, tzinfo=UTC)
    assert entry_block(tripped, last_second) is not None
    assert entry_block(tripped, midnight) is None
    # The first observation of the new day starts it afresh, from the equity it sees.
    new_day = observe(STOP_5, tripped, account_id="a1", equity=D(9000), now=midnight)
    assert (new_day.day, new_day.start_equity, new_day.trip) == (date(2024, 5, 2), D(9000), None)
    # 9000 x 95 % = 8550: the new day's stop is measured from the new start.
    assert observe(STOP_5, new_day, account_id="a1", equity=D(8551), now=midnight).trip is None
    assert observe(STOP_5, new_day, account_id="a1", equity=D(8550), now=midnight).trip


def test_the_day_is_the_utc_day_whatever_the_offset() -> None:
    # 23:30 at UTC-2 is 01:30 UTC the next day.
    moment = datetime(2024, 5, 1, 23, 30, tzinfo=timezone(timedelta(hours=-2)))
    assert utc_day(moment) == date(2024, 5, 2)
    with pytest.raises(ValueError, match="timezone-aware"):
        utc_day(datetime(2024, 5, 1, 12, 0))


def test_newly_tripped_reports_a_trip_once() -> None:
    day = started()
    tripped = observe(STOP_5, day, account_id="a1", equity=D(9000), now=NOON)
    assert newly_tripped(day, tripped) == tripped.trip
    assert newly_tripped(None, tripped) == tripped.trip
    assert newly_tripped(tripped, tripped) is None
    assert newly_tripped(day, day) is None


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        (GuardrailSettings(drawdown_stop_perc=D(0)), "drawdown_stop_perc"),
        (GuardrailSettings(drawdown_stop_perc=D(-1)), "drawdown_stop_perc"),
        (GuardrailSettings(drawdown_stop_perc=D("100.01")), "drawdown_stop_perc"),
        (GuardrailSettings(profit_lock_perc=D("NaN")), "profit_lock_perc"),
        (GuardrailSettings(profit_lock_perc=D(0)), "profit_lock_perc"),
    ],
)
def test_out_of_range_settings_name_their_field(settings: GuardrailSettings, field: str) -> None:
    with pytest.raises(InvalidField) as caught:
        settings.validate()
    assert caught.value.field == field


def test_valid_settings_pass() -> None:
    GuardrailSettings(D(100), True, D("0.5")).validate()
