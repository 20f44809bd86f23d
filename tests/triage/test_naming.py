from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import UserError
from bot.triage.naming import (
    MAX_CHANNEL_NAME,
    channel_name,
    incident_day,
    slugify,
    validate_title,
)

DAY = date(2026, 11, 27)


def test_channel_is_named_by_date_and_title_slug():
    name, slug = channel_name("incident", DAY, "Withdrawals failing on L2!", set(), "1")
    assert name == "incident-2026-11-27-withdrawals-failing-on-l2"
    assert slug == "withdrawals-failing-on-l2"


def test_a_taken_name_gets_a_numbered_suffix():
    taken = {"incident-2026-11-27-api-down", "incident-2026-11-27-api-down-2"}
    name, _ = channel_name("incident", DAY, "API down", taken, "1")
    assert name == "incident-2026-11-27-api-down-3"


def test_accents_are_folded_to_ascii():
    assert slugify("Café déjà vu", 50) == "cafe-deja-vu"


def test_non_latin_title_falls_back_to_the_incident_number():
    name, slug = channel_name("incident", DAY, "Сбой вывода", set(), "42")
    assert name == "incident-2026-11-27-42"
    assert slug == "42"


def test_long_titles_are_cut_at_a_word_boundary_within_discords_limit():
    title = "word " * 60
    name, _ = channel_name("incident", DAY, title, set(), "1")
    assert len(name) <= MAX_CHANNEL_NAME
    assert not name.endswith("-")
    assert name.endswith("word")


@given(st.text(min_size=1, max_size=200), st.sets(st.text(max_size=30), max_size=5))
def test_any_title_gives_a_valid_discord_name(title, taken):
    name, _ = channel_name("incident", DAY, title, taken, "7")
    assert 1 <= len(name) <= MAX_CHANNEL_NAME
    assert name not in taken
    assert name == name.lower()
    assert all(ch.isascii() and (ch.isalnum() or ch == "-") for ch in name)
    assert "--" not in name


@pytest.mark.parametrize(
    ("title", "says"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * 300, "300 characters"),
        ("🔥🔥🔥", "no letters"),
        ("!!! ???", "no letters"),
    ],
)
def test_bad_titles_are_refused_with_a_specific_message(title, says):
    with pytest.raises(UserError, match=says):
        validate_title(title)


def test_titles_keep_non_latin_letters():
    assert validate_title("  Сбой   вывода ") == "Сбой вывода"


def test_an_alert_incident_is_dated_by_when_its_alert_started_in_the_team_zone():
    started = datetime(2026, 11, 30, 23, 50, tzinfo=UTC)
    declared = datetime(2026, 12, 1, 0, 5, tzinfo=UTC)
    utc, tokyo = ZoneInfo("UTC"), ZoneInfo("Asia/Tokyo")
    assert incident_day(declared, "alert", started, utc).isoformat() == "2026-11-30"
    assert incident_day(declared, "alert", started, tokyo).isoformat() == "2026-12-01"
    assert incident_day(declared, "alert", None, utc).isoformat() == "2026-12-01"
    # A person's declaration is dated by the declaration, whatever "down since" says.
    assert incident_day(declared, "command", started, utc).isoformat() == "2026-12-01"
