"""An action item's due date as people type it; the past and the unreadable refused."""

from __future__ import annotations

from datetime import date

import pytest

from bot.follow_up.due import ACCEPTED, BadDueDate, parse_due

WEDNESDAY = date(2026, 3, 18)


@pytest.mark.parametrize(
    ("said", "due"),
    [
        ("2026-03-20", date(2026, 3, 20)),
        ("today", WEDNESDAY),
        ("Tomorrow", date(2026, 3, 19)),
        ("+3d", date(2026, 3, 21)),
        ("+ 2w", date(2026, 4, 1)),
        ("friday", date(2026, 3, 20)),
        ("wednesday", date(2026, 3, 25)),  # the next one, never today
        ("next friday", date(2026, 3, 27)),  # the Friday of next week
        ("next  Monday", date(2026, 3, 23)),
    ],
)
def test_the_accepted_forms(said, due):
    assert parse_due(said, WEDNESDAY) == due


@pytest.mark.parametrize("said", ["soon", "+3x", "next", "2026-02-30", "friday week", "+d"])
def test_unreadable_text_is_refused_naming_the_accepted_forms(said):
    with pytest.raises(BadDueDate) as refused:
        parse_due(said, WEDNESDAY)
    assert str(refused.value) == f"I can't read `{said}` as a due date. Use {ACCEPTED}."


def test_a_date_in_the_past_is_refused_saying_what_it_was():
    with pytest.raises(BadDueDate) as refused:
        parse_due("2026-03-17", WEDNESDAY)
    assert str(refused.value).startswith(
        "`2026-03-17` is 2026-03-17, already past (today is 2026-03-18). Use a date"
    )
