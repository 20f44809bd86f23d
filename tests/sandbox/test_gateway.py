"""The gateway as a raw client sees it: intents decide what arrives and what content is shown."""

from __future__ import annotations

import aiohttp

from .conftest import Control

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


async def test_identify_gets_ready_then_the_full_guild(control: Control, world):
    async with control.session.ws_connect(world.gateway_url) as ws:
        ready, guild = await _identify(ws, world.bot_token, GUILD_MESSAGES | (1 << 1))
    assert (ready["t"], ready["s"], guild["t"], guild["s"]) == ("READY", 1, "GUILD_CREATE", 2)
    assert ready["d"]["guilds"] == [{"id": world.guild_id, "unavailable": True}]
    assert ready["d"]["resume_gateway_url"] == world.gateway_url
    members = guild["d"]["members"]
    assert guild["d"]["member_count"] == len(members) and all("flags" in m for m in members)


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
