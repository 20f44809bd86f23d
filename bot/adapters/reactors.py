"""Who reacted with an emoji on a message, read from Discord: what a restarted bot reads,
since Discord does not replay the reactions it missed while it was down."""

from __future__ import annotations

import discord

from bot.adapters.discord_calls import call
from bot.adapters.discord_out import DiscordOut


async def reactors(out: DiscordOut, channel_id: str, message_id: str, emoji: str) -> list[str]:
    """The ids of the users who reacted ``emoji`` on the message ([] if it is gone)."""
    channel = out.guild.get_channel_or_thread(int(channel_id))
    if not isinstance(channel, discord.TextChannel | discord.Thread):
        return []

    async def read() -> list[str]:
        try:
            message = await channel.fetch_message(int(message_id))
        except discord.NotFound:
            return []
        for reaction in message.reactions:
            if str(reaction.emoji) == emoji:
                return [str(user.id) async for user in reaction.users()]
        return []

    return await call(read(), channel, "view_channel", "read_message_history")
