"""The first follow-up after a defer fills the deferred message and keeps the defer's
ephemerality, as Discord does (issue 9)."""

from __future__ import annotations

import asyncio

import discord

from .conftest import Control


async def _run(control: Control, name: str) -> dict:
    status, answer = await control.post(
        "/_sandbox/commands",
        {"user_id": "bob", "channel_id": control.channel_id("general"), "name": name},
    )
    assert status == 200, answer
    return answer


async def _channel_contents(control: Control) -> list[str]:
    messages = await control.get(f"/_sandbox/channels/{control.channel_id('general')}/messages")
    return [m["content"] for m in messages]


async def test_an_ephemeral_follow_up_after_a_public_defer_is_public(bot, guild, control: Control):
    @bot.tree.command(guild=guild, description="Public defer")
    async def loud(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        first = await interaction.followup.send("first", ephemeral=True, wait=True)
        second = await interaction.followup.send("second", ephemeral=True, wait=True)
        assert not first.flags.ephemeral and second.flags.ephemeral

    await bot.tree.sync(guild=guild)
    answer = await _run(control, "loud")
    defer, first = answer["responses"][:2]
    assert defer["type"] == 5 and defer["ephemeral"] is False
    assert (first["content"], first["ephemeral"]) == ("first", False)
    contents = await _channel_contents(control)
    assert "first" in contents and "second" not in contents


async def test_a_public_follow_up_after_an_ephemeral_defer_stays_ephemeral(
    bot, guild, control: Control
):
    @bot.tree.command(guild=guild, description="Private defer")
    async def quiet(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send("only you")

    await bot.tree.sync(guild=guild)
    answer = await _run(control, "quiet")
    assert answer["responses"][1]["ephemeral"] is True
    assert "only you" not in await _channel_contents(control)


async def test_the_bots_private_answer_after_a_public_defer_stays_private(
    bot, guild, control: Control
):
    from bot.client import PRIVATE_ANSWER, answer_with, send_ephemeral

    async def slow() -> str:
        await asyncio.sleep(0.2)
        return "secret"

    @bot.tree.command(guild=guild, description="Slow private answer")
    async def hush(interaction: discord.Interaction) -> None:
        await answer_with(
            interaction, slow(), lambda text: {"content": text, "ephemeral": True}, defer_after=0.05
        )
        await send_ephemeral(interaction, "also secret")

    await bot.tree.sync(guild=guild)
    answer = await _run(control, "hush")
    responses: list[dict] = []
    for _ in range(100):
        responses = (await control.get(f"/_sandbox/interactions/{answer['interaction_id']}"))[
            "responses"
        ]
        if any(r.get("content") == "also secret" for r in responses):
            break
        await asyncio.sleep(0.05)
    by_content = {r.get("content"): r for r in responses}
    assert by_content["secret"]["ephemeral"] is True
    assert by_content["also secret"]["ephemeral"] is True
    contents = await _channel_contents(control)
    assert PRIVATE_ANSWER in contents
    assert "secret" not in contents and "also secret" not in contents
