"""The rules of triage, without Discord or a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.triage import rules
from bot.triage.lifecycle import Status

DECLARED = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
ALICE, BOB, ADMINS = "1", "2", "99"


def test_level_one_pages_the_secondary():
    target = rules.escalation_target(1, BOB, ALICE, frozenset({ALICE}), ADMINS)
    assert target == rules.Target(1, "user", BOB)
    assert target.mention == f"<@{BOB}>"


def test_level_one_goes_to_the_admin_role_when_the_secondary_commands_or_was_paged():
    assert rules.escalation_target(1, BOB, BOB, frozenset(), ADMINS) == rules.Target(
        2, "role", ADMINS
    )
    assert rules.escalation_target(1, BOB, ALICE, frozenset({BOB}), ADMINS).level == 2
    assert rules.escalation_target(1, None, ALICE, frozenset(), ADMINS).kind == "role"


def test_level_two_pages_the_admin_role_and_nobody_is_left_without_one():
    assert rules.escalation_target(2, BOB, ALICE, frozenset(), ADMINS).mention == f"<@&{ADMINS}>"
    assert rules.escalation_target(2, BOB, ALICE, frozenset(), None) is None
    assert rules.escalation_target(1, None, ALICE, frozenset(), None) is None


def test_the_next_level_follows_the_highest_paged_and_ends_after_the_admin_role():
    assert rules.next_level(0) == 1
    assert rules.next_level(1) == 2
    assert rules.next_level(2) is None


def test_the_first_escalation_counts_from_the_declaration_and_later_ones_from_the_last_page():
    after = timedelta(minutes=15)
    first = rules.next_escalation(0, after, DECLARED, None, DECLARED + timedelta(minutes=1))
    assert first == rules.Escalation(1, DECLARED + after)
    paged_at = DECLARED + timedelta(minutes=15)
    second = rules.next_escalation(1, after, DECLARED, paged_at, paged_at)
    assert second == rules.Escalation(2, paged_at + after)
    assert rules.next_escalation(2, after, DECLARED, paged_at, paged_at) is None
    assert rules.next_escalation(0, None, DECLARED, None, DECLARED) is None


def test_what_is_already_overdue_is_due_now():
    now = DECLARED + timedelta(hours=2)
    step = rules.next_escalation(0, timedelta(minutes=5), DECLARED, None, now)
    assert step == rules.Escalation(1, now)


def test_after_a_severity_change_escalation_goes_on_from_the_level_reached():
    # Secondary paged after P2's hour; raised to P1 (15 minutes): the admin role is next,
    # 15 minutes after that page, not level 1 again.
    paged_at = DECLARED + timedelta(hours=1)
    now = paged_at + timedelta(minutes=2)
    step = rules.clock_after_severity_change(1, timedelta(minutes=15), DECLARED, paged_at, now)
    assert step == rules.Escalation(2, paged_at + timedelta(minutes=15))
    # Nothing paged yet: the new severity's window from the declaration.
    step = rules.clock_after_severity_change(0, timedelta(minutes=15), DECLARED, None, now)
    assert step == rules.Escalation(1, now)
    # Everyone paged: nothing left to schedule.
    assert rules.clock_after_severity_change(2, timedelta(minutes=5), DECLARED, now, now) is None


def test_the_reminder_comes_at_the_configured_share_of_the_response_time():
    deadlines = rules.response_deadlines(DECLARED, timedelta(hours=1), 0.75)
    assert deadlines == rules.ResponseDeadlines(
        reminder=DECLARED + timedelta(minutes=45), breach=DECLARED + timedelta(hours=1)
    )
    assert rules.response_deadlines(DECLARED, None, 0.75) is None


def test_only_an_open_unacknowledged_incident_awaits_acknowledgement():
    assert rules.awaiting_ack(Status.DECLARED, None)
    assert rules.awaiting_ack(Status.MITIGATED, None)
    assert not rules.awaiting_ack(Status.DECLARED, DECLARED)
    assert not rules.awaiting_ack(Status.RESOLVED, None)
    assert not rules.awaiting_ack(Status.OPENING, None)
