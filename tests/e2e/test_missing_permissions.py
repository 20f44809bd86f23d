"""The bot in a guild that withholds a permission: the person is told which and where, and
nothing is left half-done (issue 9)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from sandbox.control_client import Control
from sandbox.discord import permissions as perms
from storage.models import Incident, Timer
from tests.e2e.helpers import ALWAYS_ON_CALL, find_channel, text_of


@pytest.fixture
def overlay():
    return {**ALWAYS_ON_CALL, "alerts": {"open_every": "50ms", "digest_every": "100ms"}}


async def _declare(control: Control, title: str = "Withdrawals failing") -> dict:
    return await control.command(
        await control.user_id("erin"),
        await control.channel_id("general"),
        "incident",
        "declare",
        title=title,
        severity="P1",
    )


async def test_without_manage_channels_the_declaration_is_refused_naming_it_and_nothing_is_left(
    bot, control: Control
):
    await control.take_from_bot(perms.MANAGE_CHANNELS)
    ops_before = await control.messages(await control.channel_id("ops-alerts"))
    answer = await _declare(control)
    text = text_of(answer)
    assert "Manage Channels" in text and "Incidents category" in text, text
    assert await find_channel(control, "incident-") is None
    assert await control.messages(await control.channel_id("ops-alerts")) == ops_before
    assert await bot.services.incidents.list_open() == []
    async with bot.services.sessions() as session:
        # No timer of an incident (the follow-up's weekly digest and archive sweep are the
        # bot's own, scheduled at start).
        timers = (await session.execute(select(Timer))).scalars().all()
        assert [t.kind for t in timers if t.incident_id is not None] == []
        assert {t.kind for t in timers} <= {"followup_digest", "followup_archive_sweep"}
        (incident,) = (await session.execute(select(Incident))).scalars().all()
        assert incident.channel_id is None and incident.kickoff_message_id is None


async def test_without_pin_messages_the_kickoff_is_posted_unpinned_and_the_channel_told(
    bot, control: Control
):
    await control.take_from_bot(perms.PIN_MESSAGES)
    answer = await _declare(control)
    assert "Declared P1" in text_of(answer)
    channel = await control.wait_for(lambda: find_channel(control, "incident-"), what="a channel")

    async def told() -> list[dict] | None:
        messages = await control.messages(channel["id"])
        return messages if len(messages) >= 2 else None

    kickoff, note, *_ = await control.wait_for(told, what="the unpinned note")
    assert kickoff["embeds"] and not kickoff["pinned"]
    assert "Pin Messages" in note["content"] and f"#{channel['name']}" in note["content"]
    assert not any(m["pinned"] for m in await control.messages(channel["id"]))


async def test_an_alert_refused_for_a_permission_tells_ops_alerts_which(bot, control: Control):
    await control.take_from_bot(perms.MANAGE_CHANNELS)
    fired = await control.request("POST", "alerts", json={})
    assert fired["status"] < 300, fired
    ops = await control.channel_id("ops-alerts")

    async def told() -> dict | None:
        messages = await control.messages(ops)
        return next((m for m in messages if "Manage Channels" in m["content"]), None)

    message = await control.wait_for(told, what="#ops-alerts told of the missing permission")
    assert "Incidents category" in message["content"]
    assert await find_channel(control, "incident-") is None


# -- 5xx after the effect: never twice, nothing half-created --------------------------------
async def test_a_channel_created_before_a_500_is_not_left_as_a_twin(bot, control: Control):
    guild = (await control.world())["guild_id"]
    await control.fault("server_error_after", 1, path_prefix=f"/api/v10/guilds/{guild}/channels")
    answer = await _declare(control, title="Created twice")
    assert "Declared P1" in text_of(answer)
    channels = [
        c
        for c in (await control.world(refresh=True))["channels"]
        if c["name"].startswith("incident-")
    ]
    assert len(channels) == 1
    incident = await bot.services.incidents.in_channel(channels[0]["id"])
    assert incident is not None


async def test_a_kickoff_sent_before_a_500_is_posted_and_pings_once(bot, control: Control):
    await control.fault("server_error_after", 1, path_prefix="/api/v10/channels/")
    await _declare(control, title="Pinged twice")
    channel = await control.wait_for(lambda: find_channel(control, "incident-"), what="a channel")
    alice = await control.user_id("alice")
    kickoff = await control.wait_for_message(channel["id"], lambda m: m["pinned"], what="pin")
    pings = [m for m in await control.messages(channel["id"]) if alice in m["notified_user_ids"]]
    assert [m["id"] for m in pings] == [kickoff["id"]]


@pytest.mark.manual_clock
async def test_a_page_refused_for_a_permission_is_told_in_ops_alerts(bot, control: Control, clock):
    from datetime import timedelta

    await _declare(control, title="Quiet channel")
    channel = await control.wait_for(lambda: find_channel(control, "incident-"), what="a channel")
    await control.wait_for_message(channel["id"], lambda m: m["pinned"], what="the kickoff")
    role = (await control.world(refresh=True))["bot_role_id"]
    await control.set_overwrite(channel["id"], role, 0, deny=perms.SEND_MESSAGES)
    clock.advance(timedelta(minutes=16))  # past P1's escalation window: bob is paged
    ops = await control.channel_id("ops-alerts")
    notice = await control.wait_for_message(
        ops, lambda m: "could not be sent" in m["content"], what="the notice in #ops-alerts"
    )
    assert "level 1 page" in notice["content"]
    assert "Send Messages" in notice["content"] and f"#{channel['name']}" in notice["content"]
