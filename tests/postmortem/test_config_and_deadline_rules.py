"""[postmortem] settings and when the reminders fall."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.permissions import role_uses
from bot.postmortem.deadline import DUE, REMINDER, reminder_times, timer_order
from bot.settings import ConfigError, parse_config
from storage.models import Timer

RESOLVED = datetime(2026, 3, 14, 22, 15, tzinfo=UTC)


def test_a_reaction_for_an_unknown_milestone_is_refused_at_load():
    with pytest.raises(ConfigError) as caught:
        parse_config({"postmortem": {"reactions": {"🚀": "launched"}}})
    assert [p.key for p in caught.value.problems] == ["postmortem.reactions"]
    assert "no milestone named launched" in str(caught.value.problems[0].problem)


def test_reminders_fall_before_the_deadline_and_after_the_resolution():
    due = RESOLVED + timedelta(hours=48)
    before = [timedelta(hours=24), timedelta(hours=4), timedelta(hours=72), timedelta(hours=24)]
    assert reminder_times(RESOLVED, due, before) == [
        due - timedelta(hours=24),
        due - timedelta(hours=4),
    ]


def test_publishing_roles_are_resolved_like_the_other_permissions():
    config = parse_config({"postmortem": {"publish": ["commander", "postmortem-editors"]}})
    assert role_uses(config)["postmortem-editors"] == ["postmortem.publish"]


def test_timers_due_at_one_time_speak_in_order_reminders_then_the_deadline():
    # A restore (or the timers drill) can leave a resolution's timers all due at one time:
    # the deadline is still the latest, then the reminder scheduled last.
    at = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    first, second = Timer(id=7, kind=REMINDER, due_at=at), Timer(id=8, kind=REMINDER, due_at=at)
    deadline = Timer(id=5, kind=DUE, due_at=at)
    early = Timer(id=9, kind=REMINDER, due_at=at - timedelta(minutes=1))
    assert sorted([deadline, second, early, first], key=timer_order) == [
        early,
        first,
        second,
        deadline,
    ]
