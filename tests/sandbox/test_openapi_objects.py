"""The emulator's answers are objects exactly as Discord's OpenAPI description has them
(issue 9): each route the bot uses, checked against the schemas in
``fixtures/discord_openapi_subset.json``.

That fixture is extracted from ``specs/openapi.json`` of ``discord/discord-api-spec``
(commit in its ``source``): the named response schemas and everything they reference.
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Control
from .openapi_check import check


async def _ok(control: Control, method: str, path: str, **kwargs: Any) -> Any:
    status, body = await control.rest(method, path, **kwargs)
    assert status in (200, 201), (method, path, status, body)
    return body


def _conforms(value: Any, schema: str) -> None:
    found = check(value, schema)
    assert not found, f"{schema}:\n" + "\n".join(found[:20])


async def test_login_answers_conform(control: Control):
    _conforms(await _ok(control, "GET", "/users/@me"), "UserPIIResponse")
    _conforms(await _ok(control, "GET", "/oauth2/applications/@me"), "PrivateApplicationResponse")
    for guild in await _ok(control, "GET", "/users/@me/guilds"):
        _conforms(guild, "MyGuildResponse")


async def test_synced_commands_conform(control: Control):
    world = control.world
    path = f"/applications/{world.application_id}/guilds/{world.guild_id}/commands"
    commands = [
        {
            "name": "incident",
            "description": "Incidents",
            "options": [
                {
                    "type": 1,
                    "name": "declare",
                    "description": "Declare",
                    "options": [
                        {"type": 3, "name": "title", "description": "Title", "required": True},
                        {
                            "type": 3,
                            "name": "severity",
                            "description": "Severity",
                            "choices": [{"name": "P1", "value": "P1"}],
                        },
                    ],
                }
            ],
            "integration_types": None,
            "contexts": None,
        }
    ]
    for command in await _ok(control, "PUT", path, json=commands):
        _conforms(command, "ApplicationCommandResponse")


async def test_guild_objects_conform(control: Control):
    guild = control.world.guild_id
    for role in await _ok(control, "GET", f"/guilds/{guild}/roles"):
        _conforms(role, "GuildRoleResponse")
    _conforms(
        await _ok(control, "GET", f"/guilds/{guild}/members/{control.user_id('alice')}"),
        "GuildMemberResponse",
    )
    created = await _ok(
        control,
        "POST",
        f"/guilds/{guild}/channels",
        json={
            "name": "incident-x",
            "type": 0,
            "parent_id": control.channel_id("Incidents"),
            "topic": "P1",
            "permission_overwrites": [
                {"id": control.user_id("bob"), "type": 1, "allow": "3072", "deny": "0"}
            ],
        },
    )
    _conforms(created, "GuildChannelResponse")
    for channel in await _ok(control, "GET", f"/guilds/{guild}/channels"):
        _conforms(channel, "GuildChannelResponse")


@pytest.mark.parametrize("emoji", [{"name": "✅"}, {"name": "signed", "id": "123456789012345678"}])
async def test_messages_and_pins_conform(control: Control, emoji):
    channel = control.channel_id("general")
    message = await _ok(
        control,
        "POST",
        f"/channels/{channel}/messages",
        json={
            "content": f"<@{control.user_id('alice')}> kickoff",
            "embeds": [
                {"title": "Incident", "description": "d", "fields": [], "footer": {"text": "f"}}
            ],
            "components": [
                {
                    "type": 1,
                    "components": [
                        {"type": 2, "style": 3, "label": "Ack", "custom_id": "ack", "emoji": emoji}
                    ],
                }
            ],
            "allowed_mentions": {"users": [control.user_id("alice")]},
        },
    )
    _conforms(message, "MessageResponse")
    await control.rest(
        "PUT", f"/channels/{channel}/messages/{message['id']}/reactions/%E2%9C%85/@me"
    )
    await control.rest("PUT", f"/channels/{channel}/messages/pins/{message['id']}")
    _conforms(
        await _ok(control, "GET", f"/channels/{channel}/messages/{message['id']}"),
        "MessageResponse",
    )
    for listed in await _ok(control, "GET", f"/channels/{channel}/messages?limit=10"):
        _conforms(listed, "MessageResponse")
    _conforms(
        await _ok(control, "GET", f"/channels/{channel}/messages/pins"), "PinnedMessagesResponse"
    )


async def test_a_rate_limited_answer_conforms(control: Control):
    world = control.world
    world.discord.rate_limits.clock = lambda: 5.0
    channel = control.channel_id("general")
    for _ in range(5):
        await control.rest("POST", f"/channels/{channel}/messages", json={"content": "x"})
    status, body = await control.rest(
        "POST", f"/channels/{channel}/messages", json={"content": "x"}
    )
    assert status == 429
    _conforms(body, "RatelimitedResponse")


@pytest.mark.parametrize("kind", [4, 5])
async def test_an_interaction_callback_with_response_conforms(control: Control, kind):
    world = control.world
    path = f"/applications/{world.application_id}/guilds/{world.guild_id}/commands"
    await _ok(control, "PUT", path, json=[{"name": "ping", "description": "Ping"}])
    state = world.discord.state
    interaction = world.discord.interactions.run_command(
        state.find_user("alice"), state.find_channel("general"), "ping", None, {}
    )
    callback = f"/interactions/{interaction.id}/{interaction.token}/callback?with_response=true"
    data = {"content": "pong"} if kind == 4 else {}
    body = await _ok(control, "POST", callback, json={"type": kind, "data": data})
    _conforms(body, "InteractionCallbackResponse")
    follow_up = f"/webhooks/{world.application_id}/{interaction.token}?wait=true"
    _conforms(await _ok(control, "POST", follow_up, json={"content": "more"}), "MessageResponse")
