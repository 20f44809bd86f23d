"""``/incident stats``'s arithmetic: mean and p90 of durations, postmortems on time.
Plain functions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta


def mean(values: Sequence[timedelta]) -> timedelta | None:
    if not values:
        return None
    return sum(values, timedelta(0)) / len(values)


def p90(values: Sequence[timedelta]) -> timedelta | None:
    """The nearest-rank 90th percentile: the smallest value at or above 90% of them."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]
