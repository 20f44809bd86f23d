"""Triage as a new user meets it: what the kickoff, status and resolve say, and declaring
a title that is already open. The real bot in the sandbox, driven through the control API."""

from __future__ import annotations

import pytest

from sandbox.control_client import Control
from tests.e2e.helpers import ALWAYS_ON_CALL as ROTATION
from tests.e2e.helpers import find_channel, text_of

QUIET = {"escalate_after": "1h", "respond_within": "2h"}  # no pages while these tests run


@pytest.fixture
def overlay():
    return {
        **ROTATION,
        "procedure": {
            "severities": {
                name: {**QUIET, "comms": {"update_every": "1h"}} for name in ("P0", "P1", "P2")
            }
        },
    }


async def declare(
    control: Control, title: str = "Withdrawals failing", severity: str = "P1", who: str = "erin"
) -> dict:
    general = await control.channel_id("general")
    return await control.command(
        await control.user_id(who), general, "incident", "declare", title=title, severity=severity
    )


async def declared_channel(control: Control, **kwargs) -> dict:
    answer = await declare(control, **kwargs)
    assert "Declared" in text_of(answer), answer
    return await control.wait_for(
        lambda: find_channel(control, "incident-"), what="the incident channel"
    )


async def test_status_names_the_next_update_due_after_an_update(bot, control):
    channel = await declared_channel(control, severity="P2")
    alice = await control.user_id("alice")
    await control.command(alice, channel["id"], "incident", "ack")
    await control.command(alice, channel["id"], "incident", "update", text="Looking into it.")
    said = text_of(await control.command(alice, channel["id"], "incident", "status"))
    assert "No deadline pending" not in said
    assert "Next deadline: next status update due" in said


async def test_resolving_a_p1_names_the_postmortem_deadline_its_path_and_the_follow_up(
    bot, control
):
    channel = await declared_channel(control)
    alice = await control.user_id("alice")
    said = text_of(await control.command(alice, channel["id"], "incident", "resolve"))
    assert "Resolved after" in said
    slug_date = channel["name"].removeprefix("incident-")
    assert f"`incidents/{slug_date}.md`" in said
    assert "**Postmortem** due by <t:" in said
    assert "**Follow-up**" in said and "- [ ] " in said


async def test_resolving_a_p2_says_no_postmortem_is_owed_but_lists_the_follow_up(bot, control):
    channel = await declared_channel(control, severity="P2")
    alice = await control.user_id("alice")
    said = text_of(await control.command(alice, channel["id"], "incident", "resolve"))
    assert "**Postmortem** due" not in said
    assert "no postmortem is required for P2" in said
    assert "**Follow-up**" in said
