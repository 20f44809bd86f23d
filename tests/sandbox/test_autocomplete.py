"""POST /_sandbox/autocomplete: a real autocomplete interaction, answered with choices."""

from __future__ import annotations

import discord
from discord import app_commands

from .conftest import Control


async def test_the_bots_choices_for_the_focused_option_come_back(bot, guild, control: Control):
    seen: dict[str, object] = {}

    async def titles(interaction: discord.Interaction, current: str):
        seen["current"] = current
        seen["severity"] = interaction.namespace.severity
        return [app_commands.Choice(name=f"{current} outage", value=f"{current}-outage")]

    @bot.tree.command(guild=guild, description="Declare")
    @app_commands.autocomplete(title=titles)
    async def declare(interaction: discord.Interaction, title: str, severity: str) -> None:
        await interaction.response.send_message("ok")

    await bot.tree.sync(guild=guild)
    status, answer = await control.post(
        "/_sandbox/autocomplete",
        {
            "user_id": "alice",
            "channel_id": "general",
            "name": "declare",
            "options": {"title": "db", "severity": "P1"},
            "focused": "title",
        },
    )
    assert status == 200, answer
    assert answer["choices"] == [{"name": "db outage", "value": "db-outage"}]
    assert seen == {"current": "db", "severity": "P1"}  # partial options are fine


async def test_an_option_without_autocomplete_or_unfocused_is_400(bot, guild, control: Control):
    @bot.tree.command(guild=guild, description="Plain")
    async def plain(interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(text)

    await bot.tree.sync(guild=guild)
    body = {"user_id": "alice", "channel_id": "general", "name": "plain", "options": {"text": "a"}}
    status, error = await control.post("/_sandbox/autocomplete", {**body, "focused": "text"})
    assert status == 400 and "no autocomplete" in error["error"]
    status, error = await control.post("/_sandbox/autocomplete", {**body, "focused": "other"})
    assert status == 400
    status, error = await control.post("/_sandbox/autocomplete", body)
    assert status == 400 and "focused" in error["error"]
