"""The comms matrix as data: each severity's internal and external targets, from the procedure."""

from datetime import UTC, datetime, timedelta

import pytest

from bot.communicate.matrix import (
    announces_in_ops_alerts,
    external_request_at,
    keeps_ops_alerts_post,
    next_update_due,
    posts_externally,
    update_targets,
    wants_github_issue,
)
from bot.settings import parse_config
from storage.models import Incident

DECLARED = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def level(name: str, raw: dict | None = None):
    return parse_config(raw or {}).procedure.severity(name)


def incident(**fields) -> Incident:
    values = {"severity": "P1", "status": "declared", "declared_at": DECLARED, "down_since": None}
    return Incident(**{**values, **fields})


@pytest.mark.parametrize(
    ("name", "ops", "github", "external"),
    [
        ("P0", True, False, True),
        ("P1", True, False, True),
        ("P2", True, False, False),
        ("P3", False, True, False),
    ],
)
def test_the_procedure_table_is_the_default(name, ops, github, external):
    assert announces_in_ops_alerts(level(name)) is ops
    assert wants_github_issue(level(name)) is github
    assert posts_externally(level(name)) is external


def test_p0_asks_at_declaration():
    assert external_request_at(level("P0"), incident(severity="P0")) == DECLARED


def test_p1_asks_after_30_minutes_counted_from_declaration_without_an_alert():
    assert external_request_at(level("P1"), incident()) == DECLARED + timedelta(minutes=30)


def test_p1_counts_its_downtime_from_the_alerts_start():
    started = DECLARED - timedelta(minutes=20)
    at = external_request_at(level("P1"), incident(down_since=started))
    assert at == started + timedelta(minutes=30)


def test_p2_and_p3_never_post_externally():
    assert external_request_at(level("P2"), incident()) is None
    assert external_request_at(level("P3"), incident()) is None


def test_a_team_changes_the_threshold_in_configuration():
    p1 = level(
        "P1", {"procedure": {"severities": {"P1": {"comms": {"external_after_downtime": "10m"}}}}}
    )
    assert external_request_at(p1, incident()) == DECLARED + timedelta(minutes=10)


def test_a_team_can_make_p2_post_externally_without_code():
    p2 = level("P2", {"procedure": {"severities": {"P2": {"comms": {"external": "on-declare"}}}}})
    assert posts_externally(p2) and external_request_at(p2, incident()) == DECLARED


def test_reminders_follow_update_every():
    assert next_update_due(level("P0"), DECLARED) == DECLARED + timedelta(minutes=30)
    assert next_update_due(level("P1"), DECLARED) == DECLARED + timedelta(hours=1)
    assert next_update_due(level("P2"), DECLARED) is None


def test_a_post_made_earlier_keeps_following_after_a_downgrade_to_p3():
    assert not keeps_ops_alerts_post(level("P3"), incident())
    assert keeps_ops_alerts_post(level("P3"), incident(ops_alerts_message_id="42"))


def test_updates_go_where_the_matrix_says():
    assert update_targets(level("P1"), incident()).describe() == ["this channel", "#ops-alerts"]
    assert update_targets(level("P3"), incident()).describe() == ["this channel"]
    with_issue = incident(github_issue_number=7)
    assert update_targets(level("P3"), with_issue).describe() == [
        "this channel",
        "the GitHub issue",
    ]
