"""Triage as a new user meets it: what the kickoff, status and resolve say, and declaring
a title that is already open. The real bot in the sandbox, driven through the control API."""

from __future__ import annotations

import asyncio

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


# -- declaring a title that is already open ------------------------------------------------
async def incident_channels(control: Control) -> list[dict]:
    world = await control.world(refresh=True)
    return [c for c in world["channels"] if c["type"] == 0 and c["name"].startswith("incident-")]


async def ops_alerts_cards(control: Control) -> list[dict]:
    ops = await control.channel_id("ops-alerts")
    return [m for m in await control.messages(ops) if m["embeds"]]


def anyway_button(answer: dict) -> tuple[str, str]:
    """(message id, custom id) of the "Declare anyway" button in a duplicate answer."""
    response = answer["responses"][-1]
    [button] = [
        c
        for row in response["components"]
        for c in row["components"]
        if c.get("label") == "Declare anyway"
    ]
    return response["message_id"], button["custom_id"]


async def test_a_title_already_open_creates_nothing_and_points_to_its_channel(bot, control):
    channel = await declared_channel(control, title="API down")
    await bot.services.comms.idle()
    cards = len(await ops_alerts_cards(control))
    alice = await control.user_id("alice")
    pings = [m for m in await control.messages(channel["id"]) if f"<@{alice}>" in m["content"]]
    answer = await declare(control, title="api  DOWN!", who="frank")
    said = text_of(answer)
    assert "is already open" in said and f"<#{channel['id']}>" in said
    assert "Declare anyway" in str(answer["responses"][-1]["components"])
    assert answer["responses"][-1]["ephemeral"]
    await bot.services.comms.idle()
    assert len(await incident_channels(control)) == 1
    assert len(await ops_alerts_cards(control)) == cards
    assert len(await bot.services.incidents.list_open()) == 1
    again = [m for m in await control.messages(channel["id"]) if f"<@{alice}>" in m["content"]]
    assert again == pings


async def test_declare_anyway_opens_a_second_incident_once_even_after_a_restart(bot, control):
    await declared_channel(control, title="API down")
    answer = await declare(control, title="API down", who="frank")
    message_id, custom_id = anyway_button(answer)
    await bot.restart()
    general = await control.channel_id("general")
    frank = await control.user_id("frank")
    pressed = await control.press(frank, general, message_id, custom_id)
    assert "Declared P1 **API down**" in text_of(pressed)
    again = await control.press(frank, general, message_id, custom_id)
    assert "Already declared" in text_of(again)
    names = sorted(c["name"] for c in await incident_channels(control))
    assert len(names) == 2 and names[1].endswith("api-down-2")


async def test_a_resolved_incident_with_the_same_title_is_no_duplicate(bot, control):
    channel = await declared_channel(control, title="API down")
    await control.command(await control.user_id("alice"), channel["id"], "incident", "resolve")
    assert "Declared" in text_of(await declare(control, title="API down"))


async def test_two_people_declaring_one_title_at_once_get_one_incident(bot, control):
    await control.request("PUT", "settings", json={"rest_latency_ms": 200})
    answers = await asyncio.gather(
        declare(control, title="Cache misses"), declare(control, title="Cache misses", who="frank")
    )
    said = [text_of(a) for a in answers]
    assert sum("Declared" in s for s in said) == 1
    assert sum("is already open" in s for s in said) == 1
    assert len(await incident_channels(control)) == 1
