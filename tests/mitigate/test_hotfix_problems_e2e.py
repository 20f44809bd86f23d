"""What the hotfix branch and the ticket say when they cannot be made: no GitHub configured, a
base branch or repository that does not exist, a token without push rights, an outage or a
used-up rate limit. Nothing is recorded as done that was not."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.core.outbox import EffectState
from bot.mitigate.hotfix import HOTFIX_EFFECT
from storage.models import OutboxEntry
from tests.mitigate.test_deploy_e2e import advance_until, has
from tests.mitigate.test_hotfix_e2e import declare, fix_overlay, refs, run, timeline


@pytest.fixture
def overlay(request: pytest.FixtureRequest) -> dict[str, Any]:
    changes = dict(getattr(request, "param", {}))
    github = changes.pop("github", None)
    result = fix_overlay(**changes)
    if github is not None:
        result["github"] = github
    return result


def hotfix_refs(found: dict[str, str]) -> list[str]:
    return [r for r in found if r.startswith("refs/heads/hotfix/")]


@pytest.mark.parametrize("overlay", [{"github": {"owner": None, "repo": None}}], indirect=True)
async def test_without_github_the_commands_say_what_to_configure_and_the_incident_runs(
    bot, control
):
    channel, _ = await declare(control, "Withdrawals failing")  # the incident opens
    for subcommand in ("hotfix", "ticket"):
        answer = await run(control, channel, subcommand)
        assert "GitHub is not configured" in answer and "INCIDENT_BOT_GITHUB_TOKEN" in answer
        assert "The incident runs on without it" in answer
    assert await timeline(bot, channel, "hotfix_branch") == []
    status = await run(control, channel, "deployed", url="https://app.atrium.invalid")
    assert "live in production" in status  # recording by hand needs no GitHub


@pytest.mark.parametrize("overlay", [{"base_branch": "develop"}], indirect=True)
async def test_a_base_branch_that_does_not_exist(bot, control):
    channel, _ = await declare(control, "Login broken")
    answer = await run(control, channel, "hotfix")
    assert "No hotfix branch was made" in answer
    assert "the base branch `develop` does not exist in atrium/atrium" in answer
    assert hotfix_refs(await refs(control)) == []
    assert await timeline(bot, channel, "hotfix_branch") == []


@pytest.mark.parametrize("overlay", [{"repo": "no-such-repo"}], indirect=True)
async def test_a_repository_that_does_not_exist(bot, control):
    channel, _ = await declare(control, "Charts blank")
    answer = await run(control, channel, "hotfix")
    assert "the repository atrium/no-such-repo does not exist" in answer
    assert await timeline(bot, channel, "hotfix_branch") == []


async def test_a_token_without_push_rights(bot, control, world):
    world.github.push_access = False
    channel, _ = await declare(control, "Balances wrong")
    answer = await run(control, channel, "hotfix")
    assert "the bot's token cannot push to atrium/atrium (403)" in answer
    assert hotfix_refs(await refs(control)) == []
    world.github.push_access = True  # fixed: asked again, it is made
    assert "Hotfix branch [`hotfix/incident-" in await run(control, channel, "hotfix")


@pytest.mark.manual_clock
@pytest.mark.parametrize("kind", ["server_error", "rate_limit"])
async def test_an_outage_or_a_used_up_limit_is_retried_and_the_channel_told_once(
    bot, control, clock, kind
):
    channel, day = await declare(control, f"Outage {kind.replace('_', ' ')}")
    await control.request(
        "POST", "faults", json={"kind": kind, "count": 2, "path_prefix": "/repos"}
    )
    answer = await run(control, channel, "hotfix")
    assert "GitHub is unavailable" in answer and "retries with backoff" in answer
    assert hotfix_refs(await refs(control)) == []
    await advance_until(
        control, clock, lambda: has(control, channel, "Hotfix branch [`hotfix/incident-"), step=5
    )
    assert f"refs/heads/hotfix/incident-{day}" in await refs(control)
    messages = await control.messages(channel)
    assert not any("No hotfix branch was made" in m["content"] for m in messages)
    assert len(await timeline(bot, channel, "hotfix_branch")) == 1
    clock.advance(timedelta(hours=1))
    assert len(await refs(control)) == 2  # main and the one branch


async def test_a_branch_in_doubt_after_a_crash_is_not_made_again_blindly(bot, control):
    channel, day = await declare(control, "Fees doubled")
    incident = await bot.services.incidents.in_channel(channel)
    async with bot.services.sessions.begin() as session:  # as a crash mid-request leaves it
        session.add(
            OutboxEntry(
                kind=HOTFIX_EFFECT,
                key=f"hotfix_branch:{incident.id}",
                incident_id=incident.id,
                state=EffectState.IN_DOUBT,
                payload={"day": day},
                created_at=bot.services.clock.now(),
            )
        )
    answer = await run(control, channel, "hotfix")
    assert "whether it exists is unknown" in answer and f"hotfix/incident-{day}" in answer
    assert hotfix_refs(await refs(control)) == []
    assert f"Hotfix branch [`hotfix/incident-{day}`]" in await run(control, channel, "hotfix")
