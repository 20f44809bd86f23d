"""The timeline's rules: which events are milestones, full dates across midnight, and the
procedure's times (detect, acknowledge, mitigate, resolve)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.postmortem import timeline_rules as rules

T0 = datetime(2026, 3, 14, 23, 40, tzinfo=UTC)


def event(minutes: int, kind: str, text: str = "", **data) -> rules.Event:
    return rules.Event(T0 + timedelta(minutes=minutes), kind, text, data=data)


EVENTS = [
    event(5, "status:declared", "Declared P1: Site down"),
    event(5, "commander", "<@1> assigned as incident commander (on call)"),
    event(6, "update_reminder", "a reminder: not a milestone"),
    event(9, "status:acknowledged", "Acknowledged by <@1>"),
    event(30, "mark:root_cause", "the cache TTL was 0"),
    event(35, "mitigation_applied", "paused the vault", tx_hash="0xabc"),
    event(50, "mark:restored", "error rate back to baseline"),
    event(80, "status:resolved", "Resolved"),
]


def test_reminders_are_not_milestones_and_the_alert_start_comes_first():
    found = rules.lines(EVENTS, [("BridgeOutflowAnomaly", T0)])
    assert [line.kind for line in found] == [
        "alert_fired",
        "status:declared",
        "commander_assigned",
        "status:acknowledged",
        "root_cause",
        "mitigation",
        "restored",
        "status:resolved",
    ]
    assert found[5].tx_hash == "0xabc"


def test_an_incident_across_midnight_has_full_dates_on_every_line():
    found = rules.lines(EVENTS, [("BridgeOutflowAnomaly", T0)])
    stamps = rules.stamps([line.at for line in found], UTC)
    assert stamps[0] == "2026-03-14 23:40"
    assert stamps[-1] == "2026-03-15 01:00"
    same_day = rules.stamps([T0 - timedelta(hours=2), T0], UTC)
    assert same_day == ["21:40", "23:40"]
    # In the team's zone the same moments may share a day.
    assert rules.stamps([T0, T0 + timedelta(minutes=30)], ZoneInfo("America/New_York")) == [
        "19:40",
        "20:10",
    ]


def test_the_times_count_from_the_alerts_start():
    found = rules.lines(EVENTS, [("BridgeOutflowAnomaly", T0)])
    measured = rules.measures(
        found,
        declared_at=T0 + timedelta(minutes=5),
        acknowledged_at=T0 + timedelta(minutes=9),
        resolved_at=T0 + timedelta(minutes=80),
        down_since=None,
    )
    assert measured.to_detect == timedelta(minutes=5)
    assert measured.to_acknowledge == timedelta(minutes=4)
    assert measured.to_mitigate == timedelta(minutes=35)
    assert measured.to_resolve == timedelta(minutes=80)
    assert measured.duration == timedelta(minutes=50)  # impact start → service restored
    assert rules.hours(measured.duration) == "50 minutes"
    assert rules.hours(timedelta(hours=2, minutes=30)) == "2.5 hours"


def test_nothing_happened_yet_gives_no_times_rather_than_a_crash():
    measured = rules.measures([], T0, None, None, None)
    assert (measured.duration, measured.to_acknowledge, measured.to_resolve) == (None, None, None)
    assert rules.hours(None) is None


def test_a_mention_in_a_file_is_the_persons_name():
    assert rules.named("by <@12> and <@!13> in <#14>", {"12": "Alice", "13": "Bob"}.get) == (
        "by @Alice and @Bob in 14"
    )


def test_a_proposal_is_a_line_and_only_the_effect_read_back_is_the_mitigation():
    events = [
        *EVENTS[:5],
        event(20, "mitigation_proposed", "pause() proposed"),
        event(25, "hotfix_branch", "hotfix/incident-2026-03-14"),
        event(28, "fix_preview", "preview ready"),
        *EVENTS[5:],
        event(60, "fix_production", "deployed to production"),
    ]
    found = rules.lines(events, [("BridgeOutflowAnomaly", T0)])
    by_kind = {line.kind: line for line in found}
    assert by_kind["mitigation_proposed"].label == "Mitigation proposed"
    assert by_kind["fix_preview"].label == "Fix deployed to preview"
    assert by_kind["fix_deployed"].at == T0 + timedelta(minutes=60)
    measured = rules.measures(found, T0 + timedelta(minutes=5), None, None, None)
    assert measured.to_mitigate == timedelta(minutes=35)  # the vault paused, not the proposal
