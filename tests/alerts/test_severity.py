"""Severity from labels: configuration decides, the default is said out loud."""

from __future__ import annotations

from bot.alerts.severity import choose
from bot.settings import parse_config


def config(**alerts):
    parsed = parse_config({"alerts": alerts})
    return parsed.alerts, parsed.procedure


def test_the_documented_defaults():
    alerts, procedure = config()
    assert [choose([v], alerts, procedure).severity for v in ("critical", "warning", "info")] == [
        "P1",
        "P2",
        "P3",
    ]


def test_critical_is_p0_when_the_team_says_so_and_the_rest_stays():
    alerts, procedure = config(severity_map={"critical": "P0"})
    assert choose(["Critical"], alerts, procedure).severity == "P0"
    assert choose(["warning"], alerts, procedure).severity == "P2"


def test_the_most_severe_firing_alert_wins():
    alerts, procedure = config()
    assert choose(["info", "critical", "warning", None], alerts, procedure).severity == "P1"


def test_unmapped_and_missing_values_fall_back_to_the_default_with_a_note():
    alerts, procedure = config(default_severity="P3")
    unmapped = choose(["sev1`<@&1>"], alerts, procedure)
    assert unmapped.severity == "P3"
    assert "is not in `alerts.severity_map`" in unmapped.note and "`sev1'<@&1>`" in unmapped.note
    missing = choose([None, ""], alerts, procedure)
    assert missing.severity == "P3" and "no `severity` label" in missing.note
    assert choose(["critical"], alerts, procedure).note is None
