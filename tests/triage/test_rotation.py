from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.triage.rotation import Override, on_call, parse_markdown, validate

UTC_ZONE = ZoneInfo("UTC")
TABLE = """# On-call rotation

Time zone: Europe/Berlin. Hand-over at 09:00.

| Start | End | Primary | Secondary |
|---|---|---|---|
| 2026-11-23 | 2026-11-30 | @alice | @bob |
| 2026-11-30 | 2026-12-07 | @bob | @carol |
"""


def at(day, hour, minute=0):
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def test_the_table_gives_primary_and_secondary_in_the_files_zone():
    rotation = parse_markdown(TABLE, UTC_ZONE)
    assert rotation.problems == []
    answer = on_call(rotation, [], at(27, 12))
    assert (answer.primary, answer.secondary) == ("alice", "bob")
    # Hand-over is 09:00 Berlin, 08:00 UTC.
    assert on_call(rotation, [], at(30, 7, 59)).primary == "alice"
    assert on_call(rotation, [], at(30, 8, 0)).primary == "bob"


def test_next_shift_is_the_one_after_the_current():
    rotation = parse_markdown(TABLE, UTC_ZONE)
    assert rotation.next_shift(at(27, 12)).primary == "@bob"


def test_an_override_wins_over_the_table():
    rotation = parse_markdown(TABLE, UTC_ZONE)
    override = Override("123", "primary", at(27, 10), at(27, 14))
    assert on_call(rotation, [override], at(27, 12)).primary == "123"
    assert on_call(rotation, [override], at(27, 15)).primary == "alice"


def test_gaps_overlaps_and_unknown_members_are_reported():
    text = """| Start | End | Primary | Secondary |
|---|---|---|---|
| 2026-11-23T09:00+00:00 | 2026-11-25T09:00+00:00 | @alice | @ghost |
| 2026-11-26T09:00+00:00 | 2026-11-28T09:00+00:00 | @bob | |
| 2026-11-27T09:00+00:00 | 2026-12-30T09:00+00:00 | @carol | |
"""
    rotation = parse_markdown(text, UTC_ZONE, source="rotation.md")
    problems = validate(rotation, at(27, 12), lambda key: key != "ghost")
    joined = "\n".join(problems)
    assert "gap" in joined and "2026-11-25 09:00" in joined
    assert "overlap" in joined
    assert "@ghost is not a member" in joined


def test_bad_rows_are_reported_with_their_line():
    text = "| Start | End | Primary |\n|---|---|---|\n| soon | later | @alice |\n"
    rotation = parse_markdown(text, UTC_ZONE)
    assert rotation.shifts == []
    assert rotation.problems and rotation.problems[0].startswith("line 3")


def test_nobody_on_call_now_is_a_problem():
    rotation = parse_markdown(TABLE, UTC_ZONE)
    problems = validate(rotation, at(27, 12) + timedelta(days=60), lambda key: True)
    assert any("nobody is on call now" in p for p in problems)
