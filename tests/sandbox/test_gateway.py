"""The gateway as a raw client sees it: intents decide what arrives and what content is shown."""

from __future__ import annotations

import time

import aiohttp

from sandbox.discord.gateway import HEARTBEAT_ACK_DELAY_S

from .conftest import Control

GUILD_MEMBERS = 1 << 1
PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
MESSAGE_CONTENT = 1 << 15


async def _identify(ws: aiohttp.ClientWebSocketResponse, token: str, intents: int) -> list[dict]:
    await ws.receive_json()  # HELLO
    await ws.send_json({"op": 2, "d": {"token": token, "intents": intents, "properties": {}}})
    return [await ws.receive_json(), await ws.receive_json()]


async def _next_dispatch(ws: aiohttp.ClientWebSocketResponse, event: str) -> dict:
    while True:
        frame = await ws.receive_json(timeout=5)
        if frame.get("t") == event:
            return frame


async def test_identify_gets_ready_then_the_guild_with_only_the_bot_then_chunks(
    control: Control, world
):
    # Without the presences intent, GUILD_CREATE carries the bot's own member only, and
    # the rest come when asked for (op 8 → GUILD_MEMBERS_CHUNK), as on Discord.
    async with control.session.ws_connect(world.gateway_url) as ws:
        ready, guild = await _identify(ws, world.bot_token, GUILD_MESSAGES | GUILD_MEMBERS)
        assert (ready["t"], ready["s"], guild["t"], guild["s"]) == (
            "READY",
            1,
            "GUILD_CREATE",
            2,
        )
        assert ready["d"]["guilds"] == [{"id": world.guild_id, "unavailable": True}]
        assert ready["d"]["resume_gateway_url"] == world.gateway_url
        members = guild["d"]["members"]
        assert [m["user"]["id"] for m in members] == [world.bot_user_id]
        assert guild["d"]["member_count"] == 8 and all("flags" in m for m in members)
        await ws.send_json(
            {"op": 8, "d": {"guild_id": world.guild_id, "query": "", "limit": 0, "nonce": "n"}}
        )
        chunk = await _next_dispatch(ws, "GUILD_MEMBERS_CHUNK")
    assert len(chunk["d"]["members"]) == 8 and chunk["d"]["nonce"] == "n"


async def test_a_privileged_intent_the_application_lacks_is_closed_with_4014(
    control: Control, world
):
    async with control.session.ws_connect(world.gateway_url) as ws:
        await ws.receive_json()  # HELLO
        intents = GUILD_MESSAGES | PRESENCES
        await ws.send_json({"op": 2, "d": {"token": world.bot_token, "intents": intents}})
        closed = await ws.receive()
    assert closed.type is aiohttp.WSMsgType.CLOSE and closed.data == 4014


async def test_with_presences_granted_the_guild_arrives_whole(control: Control, world):
    world.discord.state.privileged_intents |= PRESENCES
    async with control.session.ws_connect(world.gateway_url) as ws:
        _, guild = await _identify(ws, world.bot_token, GUILD_MEMBERS | PRESENCES)
    assert len(guild["d"]["members"]) == guild["d"]["member_count"] == 8


async def test_a_heartbeat_ack_comes_a_moment_after_the_beat(control: Control, world):
    async with control.session.ws_connect(world.gateway_url) as ws:
        await _identify(ws, world.bot_token, GUILD_MESSAGES)
        started = time.perf_counter()
        await ws.send_json({"op": 1, "d": 2})
        ack = await ws.receive_json(timeout=5)
        waited = time.perf_counter() - started
    assert ack["op"] == 11 and waited >= HEARTBEAT_ACK_DELAY_S * 0.9


async def test_discord_py_asks_for_the_members_at_start(bot):
    guild = bot.guilds[0]
    assert guild.chunked and len(guild.members) == guild.member_count == 8


async def test_the_bots_guilds_are_listed(bot, world, control: Control):
    guilds = [g async for g in bot.fetch_guilds(limit=10)]
    assert [str(g.id) for g in guilds] == [world.guild_id]
    status, (partial,) = await control.rest("GET", "/users/@me/guilds")
    assert status == 200 and partial["owner"] is False
    assert int(partial["permissions"]) & (1 << 51)  # Pin Messages


async def test_without_message_content_intent_others_messages_arrive_empty(control: Control, world):
    async with control.session.ws_connect(world.gateway_url) as ws:
        await _identify(ws, world.bot_token, GUILD_MESSAGES)
        await control.post(
            "/_sandbox/messages", {"user_id": "erin", "channel_id": "general", "content": "secret"}
        )
        event = await _next_dispatch(ws, "MESSAGE_CREATE")
    assert event["d"]["content"] == "" and event["d"]["author"]["username"] == "erin"


async def test_with_message_content_intent_others_messages_arrive_whole(control: Control, world):
    async with control.session.ws_connect(world.gateway_url) as ws:
        await _identify(ws, world.bot_token, GUILD_MESSAGES | MESSAGE_CONTENT)
        await control.post(
            "/_sandbox/messages", {"user_id": "erin", "channel_id": "general", "content": "visible"}
        )
        event = await _next_dispatch(ws, "MESSAGE_CREATE")
    assert event["d"]["content"] == "visible"


async def test_every_connected_session_gets_each_dispatch(control: Control, world):
    async with (
        control.session.ws_connect(world.gateway_url) as first,
        control.session.ws_connect(world.gateway_url) as second,
    ):
        await _identify(first, world.bot_token, GUILD_MESSAGES | MESSAGE_CONTENT)
        await _identify(second, world.bot_token, GUILD_MESSAGES | MESSAGE_CONTENT)
        await control.post(
            "/_sandbox/messages", {"user_id": "bob", "channel_id": "general", "content": "both"}
        )
        seen = [
            (await _next_dispatch(ws, "MESSAGE_CREATE"))["d"]["content"] for ws in (first, second)
        ]
    assert seen == ["both", "both"]
