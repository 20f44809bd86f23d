"""Discord calls the postmortem phase adds beside ``discord_out``: reading a channel's
history after a message (the transcript's backfill), one message, and posting a text file.

Everything goes through discord.py (its rate limiter and 429 retries apply) and through
one error translation (``discord_calls.call``).
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import discord

from bot.adapters.discord_calls import call
from bot.adapters.discord_out import DiscordOut

PAGE = 100  # Discord's largest history page


async def history_after(
    out: DiscordOut, channel_id: str, after: int | None, limit: int
) -> AsyncIterator[list[discord.Message]]:
    """The channel's (or thread's) messages newer than ``after``, oldest first, in pages
    of at most 100 (one request each, paced by discord.py's rate limiter)."""
    channel = out._messageable(channel_id)
    since = discord.Object(after) if after is not None else None
    history = channel.history(limit=limit, after=since, oldest_first=True)
    page: list[discord.Message] = []

    async def next_page() -> list[discord.Message]:
        batch: list[discord.Message] = []
        async for message in history:
            batch.append(message)
            if len(batch) == PAGE:
                break
        return batch

    while True:
        page = await call(next_page())
        if not page:
            return
        yield page
        if len(page) < PAGE:
            return


def threads_of(out: DiscordOut, channel_id: str) -> list[discord.Thread]:
    """The channel's threads the gateway told the bot about (active ones)."""
    channel = out.guild.get_channel(int(channel_id))
    if not isinstance(channel, discord.TextChannel):
        return []
    return list(channel.threads)


async def fetch_message(
    out: DiscordOut, channel_id: str, message_id: str
) -> discord.Message | None:
    """One message, or None when it is gone."""
    channel = out._messageable(channel_id)

    async def fetch() -> discord.Message | None:
        try:
            return await channel.fetch_message(int(message_id))
        except discord.NotFound:
            return None

    return await call(fetch())


async def send_text_file(
    out: DiscordOut, channel_id: str, filename: str, text: str, content: str
) -> str:
    """Post ``content`` with ``text`` attached as ``filename``; pings nobody. The message id."""
    channel = out._messageable(channel_id)
    file = discord.File(io.BytesIO(text.encode("utf-8")), filename=filename)
    message = await call(
        out._post(
            channel, content=content, file=file, allowed_mentions=discord.AllowedMentions.none()
        )
    )
    return str(message.id)
