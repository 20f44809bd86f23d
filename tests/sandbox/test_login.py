"""Logging in: REST identity, gateway READY and GUILD_CREATE, and refusing bad tokens."""

from __future__ import annotations

import re

import aiohttp
import discord
import pytest

from bot.adapters.discord_endpoints import use_endpoints

from .conftest import Control, RecordingBot


async def test_bot_logs_in_and_sees_the_guild_with_members_and_channels(bot: RecordingBot, world):
    assert bot.user is not None and str(bot.user.id) == world.bot_user_id
    assert [g.name for g in bot.guilds] == ["Atrium"]
    guild = bot.guilds[0]
    names = {m.name for m in guild.members}
    assert {"alice", "bob", "carol", "dave", "erin", "frank"} <= names
    # The seeded bot role holds what the README asks for, not Administrator (issue 9).
    assert guild.me is not None and not guild.me.guild_permissions.administrator
    assert guild.me.guild_permissions.pin_messages and guild.me.guild_permissions.manage_channels
    assert {c.name for c in guild.text_channels} >= {"ops-alerts", "general"}
    assert [c.name for c in guild.categories] == ["Incidents"]
    alice = guild.get_member_named("alice")
    assert {r.name for r in alice.roles} == {"@everyone", "incident-admin", "oncall"}


async def test_application_info_names_the_application(bot: RecordingBot, world):
    info = await bot.application_info()
    assert str(info.id) == world.application_id


async def test_rest_refuses_a_wrong_bot_token_with_401(control: Control):
    status, body = await control.request(
        "GET", "/api/v10/users/@me", headers={"Authorization": "Bot not-the-token"}
    )
    assert status == 401
    assert body == {"message": "401: Unauthorized", "code": 0}


async def test_discord_py_login_fails_with_a_wrong_token(world):
    use_endpoints(world.api_base, world.gateway_url)
    client = discord.Client(intents=discord.Intents.default())
    with pytest.raises(discord.LoginFailure):
        await client.login("not-the-token")
    await client.close()


async def test_gateway_closes_4004_on_identify_with_a_wrong_token(world):
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(world.gateway_url + "?v=10&encoding=json") as ws:
            hello = await ws.receive_json()
            assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] > 0
            await ws.send_json({"op": 2, "d": {"token": "wrong", "intents": 0, "properties": {}}})
            closing = await ws.receive()
            assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            assert ws.close_code == 4004


async def test_gateway_answers_heartbeats(world):
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(world.gateway_url) as ws:
            await ws.receive_json()
            await ws.send_json({"op": 1, "d": None})
            assert (await ws.receive_json())["op"] == 11


async def test_unknown_rest_route_is_discords_404(control: Control):
    status, body = await control.rest("GET", "/no/such/route")
    assert status == 404
    assert body == {"message": "404: Not Found", "code": 0}


async def test_rest_answers_carry_exact_json_content_type_and_rate_limit_headers(
    control: Control, world
):
    url = world.api_base + "/users/@me"
    headers = {"Authorization": f"Bot {world.bot_token}"}
    async with control.session.get(url, headers=headers) as response:
        assert response.headers["Content-Type"] == "application/json"
        for header in ("Limit", "Remaining", "Reset", "Reset-After", "Bucket"):
            assert f"X-RateLimit-{header}" in response.headers


async def test_unknown_channel_is_10003_and_unknown_message_10008(control: Control):
    status, body = await control.rest("GET", "/channels/123/messages/456")
    assert (status, body["code"]) == (404, 10003)
    general = control.channel_id("general")
    status, body = await control.rest("GET", f"/channels/{general}/messages/456")
    assert (status, body["code"]) == (404, 10008)


async def test_viewer_page_is_served_at_the_root(control: Control):
    async with control.session.get(control.world.base_url + "/") as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        page = await response.text()
    # The page's scripts are files the world serves next to it (static/...): read them too.
    for src in re.findall(r'<script src="([^"]+)"', page):
        async with control.session.get(f"{control.world.base_url}/{src}") as response:
            assert response.status == 200, src
            page += await response.text()
    assert "/_sandbox/world" in page
