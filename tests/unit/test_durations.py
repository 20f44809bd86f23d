from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.core.durations import format_duration, parse_duration, parse_when


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("5m", 300),
        ("4h", 14400),
        ("2d", 172800),
        ("1h30m", 5400),
        ("1.5h", 5400),
        (45, 45),
    ],
)
def test_durations_parse_as_people_write_them(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "five minutes", "5 parsecs", "m5", "-5m", "9999999999d"])
def test_nonsense_durations_are_refused(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_durations_format_compactly():
    assert format_duration(timedelta(hours=1, minutes=5)) == "1h 5m"
    assert format_duration(timedelta(seconds=42)) == "42s"
    assert format_duration(timedelta(0)) == "0s"
    assert format_duration(timedelta(hours=48)) == "48h"
    assert format_duration(timedelta(days=4, hours=1)) == "4d 1h"


def test_times_are_read_in_the_configured_zone():
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    berlin = ZoneInfo("Europe/Berlin")
    assert parse_when("2026-11-28 09:00", now, berlin) == datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    assert parse_when("+2h", now, berlin) == now + timedelta(hours=2)
    assert parse_when("now", now, berlin) == now
    with pytest.raises(ValueError, match="not a time"):
        parse_when("tomorrow-ish", now, berlin)
