"""What the worker's steps share: which of them have work, and whether work waits on time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

STEPS = ("open", "notes", "digest")


@dataclass
class Schedule:
    """Steps with possible work are ``due``: set by the apply step and by every timed
    sweep, so a busy webhook costs one apply per round and no empty look at the other
    tables. ``waiting`` says work is due later (pacing, backoff): poll sooner than idle."""

    wake: Callable[[], None] = lambda: None
    due: set[str] = field(default_factory=lambda: set(STEPS))
    waiting: bool = False

    def mark(self, step: str) -> None:
        self.due.add(step)

    def sweep(self) -> None:
        self.due = set(STEPS)
