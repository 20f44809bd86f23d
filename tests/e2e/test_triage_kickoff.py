"""The kickoff stays true: edited in place on every change, with its playbook filled in.
The real bot in the sandbox, driven through the control API."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.e2e.helpers import ALWAYS_ON_CALL as ROTATION
from tests.e2e.test_triage_newuser import QUIET, declared_channel

TIMELOCK = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


@pytest.fixture
def overlay():
    return {
        **ROTATION,
        "procedure": {"severities": {name: dict(QUIET) for name in ("P0", "P1", "P2")}},
        "mitigate": {"addresses": {"PRAETOR_TIMELOCK": TIMELOCK}},
    }


def description(message: dict) -> str:
    return message["embeds"][0]["description"]


def button(message: dict) -> dict:
    return message["components"][0]["components"][0]


async def kickoff(control, channel_id: str) -> dict:
    return (await control.messages(channel_id))[0]


async def kickoff_where(control, channel_id: str, check, what: str) -> dict:
    async def probe():
        message = await kickoff(control, channel_id)
        return message if check(message) else None

    return await control.wait_for(probe, what=what)


async def test_the_kickoff_follows_acknowledgement_and_resolution(bot, control):
    channel = await declared_channel(control)
    first = await kickoff(control, channel["id"])
    assert "Not acknowledged within" in description(first)
    assert not button(first).get("disabled")
    alice = await control.user_id("alice")
    await control.command(alice, channel["id"], "incident", "ack")
    acked = await kickoff_where(
        control,
        channel["id"],
        lambda m: "**State:** acknowledged" in description(m),
        "the kickoff saying acknowledged",
    )
    assert "Not acknowledged within" not in description(acked)
    assert button(acked)["disabled"] is True
    assert f"acknowledged by <@{alice}>" in description(acked)
    await control.command(alice, channel["id"], "incident", "resolve")
    resolved = await kickoff_where(
        control,
        channel["id"],
        lambda m: "**State:** resolved" in description(m),
        "the kickoff saying resolved",
    )
    assert "Not acknowledged within" not in description(resolved)
    assert resolved["components"] == []  # over: nothing left to press


async def test_a_burst_of_changes_gives_at_most_two_edits_and_the_last_shows_the_last_state(
    bot, control
):
    channel = await declared_channel(control)
    message = await kickoff(control, channel["id"])
    incidents = bot.services.incidents
    incident = await incidents.in_channel(channel["id"])
    alice = await control.user_id("alice")
    before = (await control.requests())[-1]["at"]
    await asyncio.gather(
        incidents.change_severity(incident.id, alice, "P0"),
        incidents.acknowledge(incident.id, alice, "command"),
    )
    await incidents.kickoff.idle()
    edits = [
        c
        for c in await control.requests(since=before)
        if c["method"] == "PATCH" and c["path"].endswith(f"/messages/{message['id']}")
    ]
    assert 1 <= len(edits) <= 2
    last = await kickoff(control, channel["id"])
    assert last["embeds"][0]["title"].startswith("P0 · ")
    assert "**State:** acknowledged" in description(last)
    assert button(last)["disabled"] is True


async def test_after_a_restart_the_same_kickoff_is_edited(bot, control):
    channel = await declared_channel(control)
    message = await kickoff(control, channel["id"])
    await bot.restart()
    alice = await control.user_id("alice")
    await control.command(alice, channel["id"], "incident", "severity", level="P2")
    edited = await kickoff_where(
        control,
        channel["id"],
        lambda m: m["embeds"][0]["title"].startswith("P2 · "),
        "the kickoff showing P2",
    )
    assert edited["id"] == message["id"]
    kickoffs = [m for m in await control.messages(channel["id"]) if m["embeds"]]
    assert [m["id"] for m in kickoffs if m["embeds"][0].get("footer")] == [message["id"]]


async def test_the_p1_kickoff_names_the_hotfix_branch_of_the_day(bot, control):
    channel = await declared_channel(control)
    day = re.match(r"incident-(\d{4}-\d{2}-\d{2})-", channel["name"]).group(1)
    text = description(await kickoff(control, channel["id"]))
    assert f"hotfix/incident-{day}" in text
    assert "YYYY-MM-DD" not in text


async def test_the_p0_kickoff_fills_the_configured_timelock_address(bot, control):
    channel = await declared_channel(control, severity="P0")
    text = description(await kickoff(control, channel["id"]))
    assert f"`pause()` on {TIMELOCK}" in text
    assert "$PRAETOR_TIMELOCK" not in text
    # The kill switch is not configured here: the step says what to set.
    assert "not configured: set [mitigate.addresses] POSTERN_KILL_SWITCH" in text


async def test_a_p3_kickoff_links_its_issue_once_it_is_opened(bot, control):
    channel = await declared_channel(control, severity="P3")
    [issue] = await control.wait_for(control.github_issues, what="the issue")
    # No other change to the incident: recording the issue edits the kickoff by itself.
    linked = await kickoff_where(
        control,
        channel["id"],
        lambda m: "Opened: " in description(m),
        "the kickoff linking the issue",
    )
    assert str(issue["number"]) in description(linked)
    assert "**State:** declared" in description(linked)
