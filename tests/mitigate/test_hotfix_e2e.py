"""``/mitigate hotfix`` in the sandbox: the P1 branch from the base branch's sha, once per
incident, ``-2`` for the second incident of the day; and each way it cannot be made."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from sandbox.control_client import Control
from storage.models import TimelineEvent
from tests.e2e.helpers import ALWAYS_ON_CALL, incident_channel_id, text_of

QUIET = {"escalate_after": "1h", "respond_within": "2h"}  # no pages while the test runs


def fix_overlay(**fix: Any) -> dict[str, Any]:
    return {
        **ALWAYS_ON_CALL,
        # UTC+14: the local date differs from UTC's for most of the day.
        "time_zone": "Pacific/Kiritimati",
        "procedure": {"severities": {name: dict(QUIET) for name in ("P0", "P1", "P2")}},
        "fix": {
            "poll_every": "1h",
            "deploy_ui_url": "https://vercel.com/atrium/deployments",
            **fix,
        },
    }


@pytest.fixture
def overlay() -> dict[str, Any]:
    return fix_overlay()


async def declare(control: Control, title: str, severity: str = "P1") -> tuple[str, str]:
    """(the incident channel's id, its local date)."""
    general = await control.channel_id("general")
    erin = await control.user_id("erin")
    await control.command(erin, general, "incident", "declare", title=title, severity=severity)
    channel = await incident_channel_id(control, title.lower().replace(" ", "-"))
    name = next(
        c["name"] for c in (await control.world(refresh=True))["channels"] if c["id"] == channel
    )
    return channel, name.removeprefix("incident-")[: len("YYYY-MM-DD")]


async def run(control: Control, channel: str, subcommand: str, **options: Any) -> str:
    erin = await control.user_id("erin")
    return text_of(await control.command(erin, channel, "mitigate", subcommand, **options))


async def refs(control: Control) -> dict[str, str]:
    return {r["ref"]: r["sha"] for r in await control.github_refs()}


async def timeline(bot: Any, channel: str, kind: str) -> list[TimelineEvent]:
    incident = await bot.services.incidents.in_channel(channel)
    async with bot.services.sessions() as session:
        rows = await session.scalars(
            select(TimelineEvent).where(
                TimelineEvent.incident_id == incident.id, TimelineEvent.kind == kind
            )
        )
        return list(rows)


async def test_the_hotfix_branch_is_made_from_the_base_sha_once_and_numbered_per_day(bot, control):
    channel, day = await declare(control, "Withdrawals failing")
    main = (await refs(control))["refs/heads/main"]
    text = await run(control, channel, "hotfix")
    name = f"hotfix/incident-{day}"
    assert f"[`{name}`](" in text and f"/atrium/atrium/tree/{name})" in text
    assert f"at `{main[:7]}`" in text
    assert f"git push -u origin {name}" in text
    assert "https://vercel.com/atrium/deployments" in text  # the deploy UI, configured
    assert (await refs(control))[f"refs/heads/{name}"] == main
    [event] = await timeline(bot, channel, "hotfix_branch")
    assert name in event.text and event.data["sha"] == main

    again = await run(control, channel, "hotfix")
    assert "This incident's hotfix branch is" in again and name in again
    assert [r for r in await refs(control) if r.startswith("refs/heads/hotfix/")] == [
        f"refs/heads/{name}"
    ]
    assert len(await timeline(bot, channel, "hotfix_branch")) == 1

    second, same_day = await declare(control, "Balances wrong")
    assert same_day == day
    assert f"hotfix/incident-{day}-2" in await run(control, second, "hotfix")


async def test_a_name_github_already_has_is_skipped(bot, control, world):
    channel, day = await declare(control, "Login broken")
    main = (await refs(control))["refs/heads/main"]
    world.github.refs[f"refs/heads/hotfix/incident-{day}"] = main  # made by hand earlier
    assert f"hotfix/incident-{day}-2" in await run(control, channel, "hotfix")


async def test_outside_an_incident_channel_it_says_where_to_run(bot, control):
    general = await control.channel_id("general")
    erin = await control.user_id("erin")
    answer = text_of(await control.command(erin, general, "mitigate", "hotfix"))
    assert "incident channel" in answer
