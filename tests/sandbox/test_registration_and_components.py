"""Command registration and components refused as Discord refuses them: 50035 and the
``errors`` tree naming the field (issue 9)."""

from __future__ import annotations

from typing import Any

import discord
import pytest

from .conftest import Control, RecordingBot


def _option(name: str, kind: int = 3, **extra: Any) -> dict[str, Any]:
    return {"name": name, "description": f"{name} option", "type": kind, **extra}


async def _put(control: Control, commands: list[dict[str, Any]]) -> tuple[int, Any]:
    world = control.world
    path = f"/applications/{world.application_id}/guilds/{world.guild_id}/commands"
    return await control.rest("PUT", path, json=commands)


def _leaf(body: dict[str, Any], *path: str) -> str:
    node = body["errors"]
    for key in path:
        node = node[key]
    return node["_errors"][0]["code"]


@pytest.mark.parametrize(
    ("command", "path", "code"),
    [
        ({"name": "Ping", "description": "x"}, ("0", "name"), "APPLICATION_COMMAND_INVALID_NAME"),
        ({"name": "ping", "description": ""}, ("0", "description"), "BASE_TYPE_BAD_LENGTH"),
        (
            {"name": "ping", "description": "x", "options": [_option(f"o{n}") for n in range(26)]},
            ("0", "options"),
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            {
                "name": "ping",
                "description": "x",
                "options": [_option("a"), _option("b", required=True)],
            },
            ("0", "options", "1", "required"),
            "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
        ),
        (
            {
                "name": "ping",
                "description": "x",
                "options": [
                    _option("a", choices=[{"name": f"c{n}", "value": f"{n}"} for n in range(26)])
                ],
            },
            ("0", "options", "0", "choices"),
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            {"name": "ping", "description": "x", "options": [_option("a", description="d" * 101)]},
            ("0", "options", "0", "description"),
            "BASE_TYPE_BAD_LENGTH",
        ),
        (
            {"name": "ping", "description": "x", "options": [_option("a", 1), _option("b")]},
            ("0", "options"),
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
        ),
        (
            {
                "name": "ping",
                "description": "x",
                "options": [_option("g", 2, options=[_option("h", 2, options=[_option("s", 1)])])],
            },
            ("0", "options", "0", "options"),
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
        ),
        (
            {"name": "ping", "description": "x", "options": [_option("a"), _option("a")]},
            ("0", "options", "1", "name"),
            "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
        ),
    ],
)
async def test_a_command_discord_would_refuse_is_refused_with_its_errors_tree(
    control: Control, command, path, code
):
    status, body = await _put(control, [command])
    assert status == 400 and body["code"] == 50035 and body["message"] == "Invalid Form Body"
    assert _leaf(body, *path) == code


async def test_a_nested_command_discord_accepts_is_stored(control: Control):
    group = _option(
        "admin",
        2,
        options=[_option("assign", 1, options=[_option("who", 6, required=True), _option("why")])],
    )
    status, stored = await _put(
        control, [{"name": "incident", "description": "x", "options": [group]}]
    )
    assert status == 200 and stored[0]["options"][0]["name"] == "admin"


async def test_discord_py_gets_the_refusal_as_an_http_exception(bot: RecordingBot, guild, control):
    @bot.tree.command(guild=guild, description="d" * 100)
    async def fine(interaction: discord.Interaction) -> None: ...

    await bot.tree.sync(guild=guild)  # the library's own limits match Discord's: accepted
    status, body = await _put(control, [{"name": "x" * 33, "description": "d"}])
    assert status == 400 and _leaf(body, "0", "name") == "APPLICATION_COMMAND_INVALID_NAME"


# -- components ------------------------------------------------------------------------------
def _view(buttons: int, label: str = "ok") -> discord.ui.View:
    view = discord.ui.View()
    for number in range(buttons):
        view.add_item(discord.ui.Button(label=label, custom_id=f"b{number}"))
    return view


async def _refused(awaitable) -> dict[str, Any]:
    with pytest.raises(discord.HTTPException) as refused:
        await awaitable
    assert refused.value.status == 400 and refused.value.code == 50035
    return refused.value._errors  # type: ignore[attr-defined]


async def test_components_within_discords_limits_are_accepted(bot: RecordingBot, control: Control):
    channel = bot.get_channel(int(control.channel_id("general")))
    message = await channel.send("ok", view=_view(25, "x" * 80))
    assert len(message.components) == 5


async def test_a_label_over_80_characters_is_refused(bot: RecordingBot, control: Control):
    channel = bot.get_channel(int(control.channel_id("general")))
    tree = await _refused(channel.send("no", view=_view(1, "x" * 81)))
    assert tree["components"]["0"]["components"]["0"]["label"]["_errors"][0]["code"] == (
        "BASE_TYPE_MAX_LENGTH"
    )


async def test_rows_buttons_and_custom_ids_over_the_limits_are_refused(control: Control):
    path = f"/channels/{control.channel_id('general')}/messages"

    def button(custom_id: str) -> dict[str, Any]:
        return {"type": 2, "style": 1, "label": "b", "custom_id": custom_id}

    cases = [
        ([{"type": 1, "components": [button(f"r{n}")]} for n in range(6)], ("components",)),
        (
            [{"type": 1, "components": [button(f"b{n}") for n in range(6)]}],
            ("components", "0", "components"),
        ),
        (
            [{"type": 1, "components": [button("same"), button("same")]}],
            ("components", "0", "components", "1", "custom_id"),
        ),
        (
            [{"type": 1, "components": [button("x" * 101)]}],
            ("components", "0", "components", "0", "custom_id"),
        ),
        (
            [{"type": 1, "components": [{"type": 2, "style": 5, "label": "l", "custom_id": "c"}]}],
            ("components", "0", "components", "0", "url"),
        ),
    ]
    for components, where in cases:
        status, body = await control.rest(
            "POST", path, json={"content": "c", "components": components}
        )
        assert status == 400 and body["code"] == 50035, (where, body)
        node = body["errors"]
        for key in where:
            node = node[key]
        assert node["_errors"], (where, body)


async def test_a_modal_title_over_45_characters_is_refused(bot: RecordingBot, guild, control):
    outcome: dict[str, Any] = {}

    class Long(discord.ui.Modal, title="t" * 46):
        answer = discord.ui.TextInput(label="Answer")

    @bot.tree.command(guild=guild, description="Opens a modal")
    async def ask(interaction: discord.Interaction) -> None:
        try:
            await interaction.response.send_modal(Long())
        except discord.HTTPException as error:
            outcome["error"] = error
            await interaction.response.send_message("no modal", ephemeral=True)

    await bot.tree.sync(guild=guild)
    await control.post(
        "/_sandbox/commands",
        {"user_id": "alice", "channel_id": control.channel_id("general"), "name": "ask"},
    )
    error = outcome["error"]
    assert error.code == 50035
    assert error._errors["data"]["title"]["_errors"][0]["code"] == "BASE_TYPE_BAD_LENGTH"
