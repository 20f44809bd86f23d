"""The follow-up checklist for an incident, and what comes after resolving it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.follow_up.next_steps import next_steps
from bot.follow_up.rules import CloseOutFacts, checklist, missing, render_checklist, time_to_detect
from bot.procedure import default_procedure

PROCEDURE = default_procedure()
RESOLVED = datetime(2026, 3, 14, 22, 15, tzinfo=UTC)
DAY = date(2026, 3, 14)


def test_a_p1_follows_up_on_every_item_in_the_procedures_order():
    items = checklist(PROCEDURE, "P1")
    assert [item.text for item in items] == list(PROCEDURE.follow_up)
    assert all(item.applies for item in items)
    assert render_checklist(items).splitlines() == [
        "**Follow-up**",
        "- [ ] Action items tracked in `docs/plan-tracker.md`",
        "- [ ] Postmortem published to `incidents/`",
        "- [ ] Alert rules updated if detection was slow",
        "- [ ] Runbooks updated if response was unclear",
    ]


def test_a_p2_keeps_the_postmortem_item_but_says_it_does_not_apply():
    items = checklist(PROCEDURE, "P2")
    assert [item.text for item in items] == list(PROCEDURE.follow_up)
    postmortem = items[1]
    assert not postmortem.applies
    assert postmortem.why_not == "no postmortem is required for P2"
    assert postmortem.markdown() == (
        "- ~~Postmortem published to `incidents/`~~ (no postmortem is required for P2)"
    )
    assert [item.applies for item in items] == [True, False, True, True]


def test_after_resolving_a_p1_the_postmortem_deadline_and_path_come_first():
    steps = next_steps(PROCEDURE, severity="P1", day=DAY, slug="site-down", resolved_at=RESOLVED)
    assert steps.postmortem is not None
    assert steps.postmortem.due_at == RESOLVED + timedelta(hours=48)
    assert steps.follow_up == checklist(PROCEDURE, "P1")
    lines = steps.lines()
    stamp = int((RESOLVED + timedelta(hours=48)).timestamp())
    assert lines[0] == (
        f"**Postmortem** due by <t:{stamp}:f> (<t:{stamp}:R>, 48h after resolution): "
        "`incidents/2026-03-14-site-down.md`."
    )
    assert lines[1] == "**Follow-up**" and len(lines) == 2 + len(PROCEDURE.follow_up)


def test_after_resolving_a_p3_there_is_no_postmortem_only_the_follow_up():
    steps = next_steps(PROCEDURE, severity="P3", day=DAY, slug="typo", resolved_at=RESOLVED)
    assert steps.postmortem is None
    assert steps.lines()[0] == "**Follow-up**"
    assert not any("Postmortem**" in line for line in steps.lines())


def test_an_unknown_severity_is_a_key_error():
    with pytest.raises(KeyError):
        next_steps(PROCEDURE, severity="P9", day=DAY, slug="x", resolved_at=RESOLVED)


def _facts(**changes):
    base = {
        "needs_postmortem": True,
        "published": True,
        "items": 1,
        "to_detect": timedelta(minutes=3),
        "slow_after": timedelta(minutes=15),
        "alert_rules_updated": False,
        "runbooks": "clear",
    }
    return CloseOutFacts(**{**base, **changes})


def test_the_close_out_check_asks_for_alert_rules_only_past_the_threshold():
    assert missing(_facts()) == []
    assert missing(_facts(to_detect=timedelta(minutes=15))) == []  # at it, not past it
    slow = missing(_facts(to_detect=timedelta(minutes=16)))
    assert len(slow) == 1 and slow[0].startswith("Alert rules updated: detection took 16m")
    assert missing(_facts(to_detect=timedelta(minutes=16), alert_rules_updated=True)) == []
    assert missing(_facts(to_detect=None)) == []  # nothing to measure


def test_the_close_out_check_lists_each_gap_in_the_procedures_order():
    gaps = missing(_facts(items=0, published=False, runbooks=None))
    assert [gap.split(":")[0] for gap in gaps] == [
        "Action items tracked in `docs/plan-tracker.md`",
        "Postmortem published to `incidents/`",
        "Runbooks updated if response was unclear",
    ]
    assert missing(_facts(needs_postmortem=False, published=False)) == []


def test_time_to_detect_prefers_the_impact_start_a_responder_set():
    declared = RESOLVED
    alert = declared - timedelta(minutes=10)
    impact = declared - timedelta(minutes=30)
    assert time_to_detect(declared, [alert], None) == timedelta(minutes=10)
    assert time_to_detect(declared, [alert], impact) == timedelta(minutes=30)
    assert time_to_detect(declared, [], None) is None
