"""Backoff: how long to wait before trying an outside system again. One rule for the bot."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Backoff:
    """Doubling waits from ``initial`` up to ``cap``.

    ``not_before`` is what the other side asked for (a 429's reset, ``Retry-After``):
    it wins over the cap, since retrying sooner only earns another refusal. ``jitter``
    spreads retries of many callers (0.1 = up to 10 % shorter), so they do not arrive
    together.
    """

    initial: timedelta = timedelta(seconds=1)
    cap: timedelta = timedelta(minutes=1)
    factor: float = 2.0
    jitter: float = 0.0

    def delay(self, attempt: int, not_before: timedelta = timedelta(0)) -> timedelta:
        """The wait before try number ``attempt + 1`` (``attempt`` counts from 1)."""
        wait = self.initial * (self.factor ** max(0, attempt - 1))
        wait = min(self.cap, wait)
        if self.jitter:
            wait *= 1 - random.uniform(0, self.jitter)
        return max(wait, not_before)

    def seconds(self, attempt: int, not_before: float = 0.0) -> float:
        return self.delay(attempt, timedelta(seconds=not_before)).total_seconds()
