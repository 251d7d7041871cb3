"""Small helpers for the latency benchmarks: percentiles and millisecond formatting."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


def percentile(values: Sequence[float], share: float) -> float:
    """The `share` quantile (0..1) by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = share * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ms(seconds: float) -> str:
    """Milliseconds, for tables."""
    return f"{seconds * 1000:.0f}"


@dataclass
class Series:
    """Samples of one quantity, in seconds."""

    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        """Record one sample."""
        self.values.append(value)

    @property
    def p50(self) -> float:
        """Median."""
        return percentile(self.values, 0.5)

    @property
    def p90(self) -> float:
        """90th percentile."""
        return percentile(self.values, 0.9)


