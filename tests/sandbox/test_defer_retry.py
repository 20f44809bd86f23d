"""A slow command whose deferral meets one Discord 5xx is still answered (found by
`make chaos`, issue 15): discord.py retries a 5xx after 1 s, so the deferral must leave
that second inside Discord's 3-second deadline."""

from __future__ import annotations

import asyncio

import discord

from .conftest import Control


async def _answers(control: Control, command: str, awaited: str) -> list[str]:
    """Run ``command`` as bob; its answers' contents once ``awaited`` is among them."""
    status, answer = await control.post(
        "/_sandbox/commands",
        {"user_id": "bob", "channel_id": control.channel_id("general"), "name": command},
    )
    assert status == 200, answer
    contents: list[str] = []
    for _ in range(100):
        seen = await control.get(f"/_sandbox/interactions/{answer['interaction_id']}")
        contents = [r.get("content") for r in seen["responses"]]
        if awaited in contents:
            break
        await asyncio.sleep(0.05)
    return contents


async def test_a_slow_answer_survives_one_5xx_on_its_deferral(bot, guild, control: Control):
    from bot.client import answer_with

    async def slow() -> str:
        await asyncio.sleep(2.5)  # work that needs a deferral (a Discord call being retried)
        return "done at last"

    @bot.tree.command(guild=guild, description="Slow answer")
    async def slowpoke(interaction: discord.Interaction) -> None:
        await answer_with(interaction, slow(), lambda text: {"content": text})

    await bot.tree.sync(guild=guild)
    status, _ = await control.post(
        "/_sandbox/faults", {"kind": "server_error", "count": 1, "path_prefix": "/interactions/"}
    )
    assert status == 201
    assert (await _answers(control, "slowpoke", "done at last")).count("done at last") == 1


async def test_a_deferral_carried_out_before_a_5xx_is_followed_up(bot, guild, control: Control):
    from bot.client import answer_with

    async def slow() -> str:
        await asyncio.sleep(1.5)
        return "followed up"

    @bot.tree.command(guild=guild, description="Slow answer")
    async def slowcoach(interaction: discord.Interaction) -> None:
        await answer_with(interaction, slow(), lambda text: {"content": text})

    await bot.tree.sync(guild=guild)
    await control.post(
        "/_sandbox/faults",
        {"kind": "server_error_after", "count": 1, "path_prefix": "/interactions/"},
    )
    assert (await _answers(control, "slowcoach", "followed up")).count("followed up") == 1
