"""The bot's Discord adapter against the emulator's real refusals (not a hand-made error)."""

from __future__ import annotations

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
