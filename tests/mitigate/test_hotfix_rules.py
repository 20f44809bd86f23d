"""The P1 fix's rules and settings, without Discord or a database."""

from __future__ import annotations

from datetime import date

import pytest

from bot.mitigate.fix_rules import Report, branch_names, branch_url, report_of, web_base
from bot.settings import ConfigError, parse_config


def test_the_branch_is_named_by_the_local_date_then_numbered():
    names = list(branch_names("hotfix/incident-", date(2026, 3, 14)))
    assert names[:3] == [
        "hotfix/incident-2026-03-14",
        "hotfix/incident-2026-03-14-2",
        "hotfix/incident-2026-03-14-3",
    ]
    assert len(names) == len(set(names)) == 20


def test_github_pages_are_on_the_web_host():
    assert web_base("https://api.github.com/") == "https://github.com"
    assert web_base("https://ghe.example.com/api/v3") == "https://ghe.example.com"
    assert (
        branch_url("http://127.0.0.1:9/", "atrium/app", "hotfix/x")
        == "http://127.0.0.1:9/github/atrium/app/tree/hotfix/x"
    )


@pytest.mark.parametrize(
    ("environment", "state", "report"),
    [
        ("Preview", "success", Report.PREVIEW_READY),
        ("Preview – atrium", "success", Report.PREVIEW_READY),
        ("preview", "in_progress", Report.NOTHING),
        ("Preview", "failure", Report.FAILED),
        ("Production", "error", Report.FAILED),
        ("production", "success", Report.PRODUCTION_READY),
        ("Production", "inactive", Report.NOTHING),
        ("Staging", "success", Report.NOTHING),
    ],
)
def test_what_a_deployment_status_means(environment: str, state: str, report: Report):
    assert report_of(environment, state, "Preview", "Production") is report


def test_fix_settings_are_checked_at_load():
    with pytest.raises(ConfigError) as caught:
        parse_config({"fix": {"ticket_on_declare": ["P9"]}})
    assert "P9" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        parse_config({"fix": {"base_branch": "../main"}})
    assert [p.key for p in caught.value.problems] == ["fix.base_branch"]
    assert parse_config({"fix": {"ticket_on_declare": ["P2"]}}).fix.ticket_on_declare == ["P2"]
