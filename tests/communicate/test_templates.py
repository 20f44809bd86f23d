"""The comms templates: each renders with what the bot gives it, drafts fit X, overrides by path."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.communicate.asking import approval_embed, buttons
from bot.communicate.base import Deps
from bot.communicate.drafts import Drafts
from bot.communicate.rules import INITIAL, RESOLVE
from bot.communicate.weighted import measure
from bot.core.backoff import Backoff
from bot.core.clock import ManualClock
from bot.core.render import Renderer
from bot.settings import ConfigError, Secrets, Settings, parse_config
from storage.models import ExternalPost, Incident

AT = datetime(2026, 11, 27, 14, 5, tzinfo=UTC)


def incident(**fields) -> Incident:
    values = {
        "id": 7,
        "title": "Withdrawals failing",
        "slug": "withdrawals-failing",
        "severity": "P1",
        "status": "resolved",
        "declared_at": AT,
        "down_since": AT - timedelta(minutes=10),
        "resolved_at": AT + timedelta(hours=1, minutes=5),
        "channel_id": "111",
        "channel_name": "incident-2026-11-27-withdrawals-failing",
        "commander_id": "222",
        "declared_by": "333",
        "summary": "Users see 500s",
        "github_issue_number": 12,
        "github_issue_url": "https://github.example/atrium/atrium/issues/12",
    }
    return Incident(**{**values, **fields})


def external(config=None, renderer=None) -> Drafts:  # type: ignore[no-untyped-def]
    config = config or parse_config({"x": {"handle": "atrium_status"}})
    renderer = renderer or Renderer(config.zone)
    deps = Deps(config, None, None, None, None, renderer, None, None, ManualClock(AT), None, None)  # type: ignore[arg-type]
    return Drafts(deps, messages=None)  # type: ignore[arg-type]


def test_the_default_drafts_name_the_start_and_fit_x():
    comms = external()
    level = comms.d.config.procedure.severity("P1")
    first = comms.draft_text(INITIAL, incident(status="declared", resolved_at=None), level)
    assert "investigating" in first and "(since 13:55 UTC)" in first
    assert measure(first).fits
    reply = comms.draft_text(RESOLVE, incident(), level)
    assert "Resolved" in reply and "13:55–15:10 UTC" in reply and "1h 15m" in reply
    assert "postmortem" in reply and measure(reply).fits


def test_the_internal_title_is_not_published_by_default():
    comms = external()
    level = comms.d.config.procedure.severity("P0")
    secret = incident(title="Hot wallet key leaked via CI logs")
    assert "Hot wallet" not in comms.draft_text(INITIAL, secret, level)


def test_a_template_that_shows_the_title_has_a_long_title_shortened_to_fit(tmp_path: Path):
    override = tmp_path / "x.txt.j2"
    override.write_text("We are investigating: {{ title }}. Updates in this thread.")
    config = parse_config({})
    comms = external(config, Renderer(config.zone, overrides={"x_declare.txt.j2": override}))
    long = incident(title="Bridge " + "very " * 60 + "slow")
    text = comms.draft_text(INITIAL, long, config.procedure.severity("P1"))
    assert measure(text).fits and text.startswith("We are investigating: Bridge very")
    assert "…. Updates in this thread." in text


@pytest.mark.parametrize(
    "state",
    ["awaiting_approval", "approved", "publishing", "posted", "in_doubt", "failed", "withdrawn"],
)
def test_the_approval_message_renders_for_every_state(state):
    comms = external()
    post = ExternalPost(
        id=3,
        incident_id=7,
        purpose=RESOLVE,
        text="✅ Resolved.",
        state=state,
        approved_by="222",
        posted_at=AT,
        url="https://x.com/atrium_status/status/1",
        attempts=2,
        last_error="X is unavailable (503)",
    )
    embed = approval_embed(comms.d.renderer, comms.d.config, post, None, retry_at=AT)
    assert "✅ Resolved." in embed.description and "/280" in embed.description
    labels = [b.label for b in buttons(post)]
    if state == "awaiting_approval":
        assert labels == ["Approve", "Edit"]
    elif state in ("in_doubt", "failed"):
        assert labels == ["Approve again", "Edit"]
    else:
        assert labels == []


@pytest.mark.parametrize(
    ("name", "context_extra"),
    [
        (
            "ops_alerts.md.j2",
            {"status_label": "Resolved", "latest_update": None, "external_url": None},
        ),
        (
            "status_update.md.j2",
            {
                "status_label": "Open",
                "text": "Fix deployed",
                "author_id": "1",
                "next_due": AT,
                "elsewhere": True,
            },
        ),
        ("update_reminder.md.j2", {"last_update_at": AT}),
        (
            "github_issue.md.j2",
            {
                "marker": "incident-bot:1:7",
                "channel_url": "https://discord.com/channels/1/111",
                "declared_by_name": "Erin",
                "commander_name": "Alice",
            },
        ),
        ("github_issue_title.txt.j2", {}),
        (
            "github_update.md.j2",
            {"status_label": "Open", "text": "Queued", "author_name": "Alice", "at": AT},
        ),
    ],
)
def test_internal_templates_render_with_the_context_the_bot_gives(name, context_extra):
    config = parse_config({})
    level = config.procedure.severity("P1")
    text = Renderer(config.zone).render(name, incident=incident(), severity=level, **context_extra)
    assert text.strip()


def test_the_github_issue_links_the_channel_and_carries_its_marker():
    config = parse_config({})
    text = Renderer(config.zone).render(
        "github_issue.md.j2",
        incident=incident(severity="P3"),
        severity=config.procedure.severity("P3"),
        marker="incident-bot:1:7",
        channel_url="https://discord.com/channels/1/111",
        declared_by_name="Erin",
        commander_name=None,
    )
    assert "<!-- incident-bot:1:7 -->" in text
    assert "[#incident-2026-11-27-withdrawals-failing](https://discord.com/channels/1/111)" in text
    assert "Schedule it for the next sprint" in text


def test_an_unknown_template_name_is_a_config_problem():
    with pytest.raises(ConfigError) as caught:
        parse_config({"templates": {"x_declare.txt": "mine.j2"}})
    assert "no template named x_declare.txt" in str(caught.value)
    assert "x_declare.txt.j2" in str(caught.value)


def test_a_missing_override_file_is_named(tmp_path: Path):
    config_path = tmp_path / "incident-bot.toml"
    settings = Settings(
        config=parse_config({"templates": {"x_declare.txt.j2": "teams/x.j2"}}),
        secrets=Secrets(),
        config_path=config_path,
    )
    with pytest.raises(ConfigError) as caught:
        settings.template_overrides()
    assert "templates.x_declare.txt.j2" in str(caught.value) and "teams/x.j2" in str(caught.value)
    (tmp_path / "teams").mkdir()
    (tmp_path / "teams" / "x.j2").write_text("ours")
    assert settings.template_overrides() == {"x_declare.txt.j2": tmp_path / "teams" / "x.j2"}


def x_backoff(attempts: int, initial: timedelta, cap: timedelta, asked: timedelta) -> timedelta:
    """The X retries' backoff as comms builds it (bot/communicate/publishing.py)."""
    return Backoff(initial=initial, cap=cap).delay(attempts, asked)


def test_retries_back_off_doubling_up_to_the_cap_and_never_before_x_asks():
    one, cap = timedelta(seconds=5), timedelta(minutes=15)
    waits = [x_backoff(n, one, cap, timedelta(0)) for n in range(1, 6)]
    assert waits == [timedelta(seconds=s) for s in (5, 10, 20, 40, 80)]
    assert x_backoff(20, one, cap, timedelta(0)) == cap
    assert x_backoff(1, one, cap, timedelta(minutes=3)) == timedelta(minutes=3)


def test_x_asking_for_longer_than_the_cap_is_waited_for():
    one, cap = timedelta(seconds=5), timedelta(minutes=15)
    # X's reset (20 minutes) is later than the cap: retrying at 15 minutes only earns a 429.
    assert x_backoff(1, one, cap, timedelta(minutes=20)) == timedelta(minutes=20)
    assert x_backoff(20, one, cap, timedelta(minutes=20)) == timedelta(minutes=20)
    assert x_backoff(20, one, cap, timedelta(minutes=1)) == cap
