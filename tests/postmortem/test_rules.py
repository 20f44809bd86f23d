"""The postmortem rule: P0 and P1 need one, due 48 h after resolution, at a dated path."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bot.postmortem.rules import (
    postmortem_due_at,
    postmortem_for,
    postmortem_path,
    requires_postmortem,
)
from bot.procedure import default_procedure
from bot.settings import parse_config

PROCEDURE = default_procedure()
RESOLVED = datetime(2026, 3, 14, 22, 15, tzinfo=UTC)
DAY = date(2026, 3, 14)


def test_p0_and_p1_require_a_postmortem_p2_and_p3_do_not():
    assert [requires_postmortem(s) for s in PROCEDURE.severities] == [True, True, False, False]


def test_the_postmortem_is_due_48_hours_after_resolution():
    assert postmortem_due_at(RESOLVED, PROCEDURE.postmortem) == RESOLVED + timedelta(hours=48)


def test_the_path_is_dated_by_the_incidents_local_date():
    assert postmortem_path(PROCEDURE.postmortem, DAY, "vault-drained") == (
        "incidents/2026-03-14-vault-drained.md"
    )


def test_a_resolved_p1_owes_its_postmortem_by_a_time():
    due = postmortem_for(PROCEDURE, "p1", DAY, "site-down", RESOLVED)
    assert due is not None
    assert (due.severity, due.within) == ("P1", timedelta(hours=48))
    assert due.path == "incidents/2026-03-14-site-down.md"
    assert due.due_at == datetime(2026, 3, 16, 22, 15, tzinfo=UTC)


def test_an_open_p0_owes_one_whose_clock_has_not_started():
    due = postmortem_for(PROCEDURE, "P0", DAY, "vault-drained", None)
    assert due is not None and due.due_at is None


def test_p2_and_p3_owe_none():
    assert postmortem_for(PROCEDURE, "P2", DAY, "slow", RESOLVED) is None
    assert postmortem_for(PROCEDURE, "P3", DAY, "typo", RESOLVED) is None


def test_a_team_changes_the_deadline_and_the_path_in_configuration():
    procedure = parse_config(
        {"procedure": {"postmortem": {"due_within": "72h", "path": "pm/{slug}-{date}.md"}}}
    ).procedure
    due = postmortem_for(procedure, "P1", DAY, "site-down", RESOLVED)
    assert due is not None
    assert due.due_at == RESOLVED + timedelta(hours=72)
    assert due.path == "pm/site-down-2026-03-14.md"
