"""The bot's Discord adapter against the emulator's real refusals (not a hand-made error)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import discord
import pytest

from bot.adapters.discord_out import DiscordOut
from bot.errors import ExternalServiceError, UserError

from .conftest import RecordingBot


def _incidents(bot: RecordingBot) -> discord.CategoryChannel:
    return discord.utils.get(bot.guilds[0].categories, name="Incidents")


async def test_a_full_category_is_told_as_such(bot: RecordingBot, world):
    # The emulator refuses the 51st channel exactly as Discord does (400, 50035, parent_id
    # CHANNEL_PARENT_MAX_CHANNELS); the adapter turns that into words the person can act on.
    category = _incidents(bot)
    for number in range(50):
        world.discord.state.create_channel(
            {"name": f"inc-{number}", "type": 0, "parent_id": str(category.id)}
        )
    out = DiscordOut(bot, int(world.guild_id))
    with pytest.raises(UserError, match="category is full") as refused:
        await out.create_text_channel("inc-50", category, topic="incident 50")
    assert isinstance(refused.value.__cause__, discord.HTTPException)
    assert refused.value.__cause__.code == 50035


async def test_another_form_error_is_not_taken_for_a_full_category(bot: RecordingBot, world):
    # Same code 50035, another field: Discord's answer, not the category's capacity.
    out = DiscordOut(bot, int(world.guild_id))
    with pytest.raises(ExternalServiceError, match="Discord answered 400"):
        await out.create_text_channel("!!!", _incidents(bot), topic="bad name")


async def test_posts_to_one_channel_never_meet_a_429_from_discord_py_counting_a_new_window(
    bot: RecordingBot, world
):
    """Found by the storm bench: posts to #ops-alerts met 429s. discord.py takes the first
    answer of a fresh window as the whole count, though posts sent with it are still in
    flight (Rapptz/discord.py#10287). Here one of two posts is held at Discord before it is
    counted, the other answers "4 left", four more go, and the held one is the sixth."""
    route = ("POST", "/channels/{channel_id}/messages")
    world.discord.rate_limits.route_limits[route] = (5, 0.3)  # Discord's 5, in a short window
    channel = discord.utils.get(bot.guilds[0].text_channels, name="general")
    path = f"/channels/{channel.id}/messages"
    out = DiscordOut(bot, int(world.guild_id))
    await out.send(str(channel.id), content="the bucket is known")
    await asyncio.sleep(0.35)  # Discord's window (real time, both sides): the bucket resets

    def answered() -> int:
        return sum(1 for e in world.discord.requests.entries if e["path"] == path) - 1

    world.discord.faults.add("hold", 1, path, "POST")
    first = [asyncio.create_task(out.send(str(channel.id), content=f"m{n}")) for n in (1, 2)]
    assert await _within(5.0, world.discord.faults.describe_held), "a post held, uncounted"
    more = [asyncio.create_task(out.send(str(channel.id), content=f"m{n}")) for n in range(3, 7)]
    await _within(0.5, lambda: answered() >= 5)  # the five not held, if they are let through
    world.discord.faults.release()
    await asyncio.wait_for(asyncio.gather(*first, *more), 10)
    assert world.discord.rate_limits.answered_429 == 0
    contents = [m.content for m in world.discord.state.history(channel.id, limit=100)]
    assert sorted(c for c in contents if c.startswith("m")) == [f"m{n}" for n in range(1, 7)]


async def _within(seconds: float, probe: Callable[[], Any]) -> Any:
    """``probe``'s first truthy answer, polled for at most ``seconds`` (falsy if none)."""
    for _ in range(int(seconds / 0.005)):
        if result := probe():
            return result
        await asyncio.sleep(0.005)
    return probe()
