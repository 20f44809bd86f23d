"""State tables: allowed moves pass, others are refused naming what is allowed."""

from __future__ import annotations

from enum import StrEnum

import pytest

from bot.core.states import StateTable
from bot.errors import Conflict


class Door(StrEnum):
    OPEN = "open"
    SHUT = "shut"
    GONE = "gone"


TABLE = StateTable(
    "door",
    {
        Door.OPEN: frozenset({Door.SHUT}),
        Door.SHUT: frozenset({Door.OPEN, Door.GONE}),
        Door.GONE: frozenset(),
    },
)


def test_an_allowed_move_returns_the_target():
    assert TABLE.check("open", Door.SHUT) is Door.SHUT
    assert TABLE.can(Door.SHUT, Door.GONE)


def test_a_refused_move_names_the_allowed_ones():
    with pytest.raises(Conflict, match="door is open; from there it can move to shut, not gone"):
        TABLE.check(Door.OPEN, Door.GONE)


def test_a_final_state_says_so():
    with pytest.raises(Conflict, match="nothing"):
        TABLE.check(Door.GONE, Door.OPEN)


def test_a_table_missing_a_row_is_refused_when_built():
    with pytest.raises(ValueError, match="no row"):
        StateTable("door", {Door.OPEN: frozenset({Door.SHUT})})
