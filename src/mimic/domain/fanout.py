"""A signal's fan-out in parts: disjoint slices of its followers that workers run at once.

One worker process uses one core; a signal to thousands of followers is split so that
several worker processes share it. Each part holds the exchange connections whose id falls
in its range, so every connection belongs to exactly one part, whatever its id looks like.
Ids are random hex, which spreads them evenly.
"""

from dataclasses import dataclass

from mimic.domain.errors import InvalidField

MAX_FANOUT_PARTS = 16
# Range boundaries are this many hex digits: fine enough for MAX_FANOUT_PARTS even slices.
_BOUNDARY_DIGITS = 4


@dataclass(frozen=True, slots=True)
class FanoutPart:
    index: int
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.count <= MAX_FANOUT_PARTS:
            raise InvalidField("fanout_parts", f"must be between 1 and {MAX_FANOUT_PARTS}")
        if not 0 <= self.index < self.count:
            raise InvalidField("part", f"must be between 0 and {self.count - 1}")

    @property
    def low(self) -> str | None:
        """The smallest connection id of the part (inclusive); None: no lower bound."""
        return None if self.index == 0 else _boundary(self.index, self.count)

    @property
    def high(self) -> str | None:
        """The bound above the part's connection ids (exclusive); None: no upper bound."""
        return None if self.index == self.count - 1 else _boundary(self.index + 1, self.count)

    def holds(self, account_id: str) -> bool:
        low, high = self.low, self.high
        return (low is None or account_id >= low) and (high is None or account_id < high)


def all_parts(count: int) -> list[FanoutPart]:
    return [FanoutPart(index, count) for index in range(count)]


def _boundary(index: int, count: int) -> str:
    span = 16**_BOUNDARY_DIGITS
    return format(index * span // count, f"0{_BOUNDARY_DIGITS}x")
