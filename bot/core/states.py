"""State tables: every stateful thing (incident, outbox effect, external post, alert
group) moves only along the moves its table allows, checked in one place."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Generic, TypeVar

from bot.errors import Conflict

S = TypeVar("S", bound=StrEnum)


class StateTable(Generic[S]):
    def __init__(self, what: str, moves: Mapping[S, frozenset[S]]) -> None:
        self.what = what
        self.moves = dict(moves)
        states = {s for s in moves} | {t for targets in moves.values() for t in targets}
        missing = states - set(moves)
        if missing:
            raise ValueError(f"{what}: no row for {sorted(missing)} in the state table")

    def can(self, current: S | str, target: S) -> bool:
        return target in self.moves[self._state(current)]

    def check(self, current: S | str, target: S) -> S:
        """``target`` if the move is allowed; Conflict naming the allowed moves if not."""
        state = self._state(current)
        if target not in self.moves[state]:
            allowed = ", ".join(sorted(self.moves[state])) or "nothing (it is final)"
            raise Conflict(
                f"The {self.what} is {state}; from there it can move to {allowed}, not {target}."
            )
        return target

    def _state(self, value: S | str) -> S:
        for state in self.moves:
            if state == value:
                return state
        raise ValueError(f"{value!r} is not a state of the {self.what}")
