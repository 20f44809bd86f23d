"""check-config's look at the bot's permissions in its guild, over REST (no gateway).

The bot's effective permissions in the guild, in the incidents category and in the
ops-alerts channel (roles and overwrites, as discord.py computes them), and whether
the roles it pages can be notified (mentionable, or the bot holds Mention Everyone).
"""

from __future__ import annotations

import discord

from bot.adapters.discord_permissions import REQUIRED, invite_url, label, lacking, place
from bot.settings import Config

# What each place is used for (the category's permissions are what new incident channels get).
IN_CATEGORY = (
    "view_channel",
    "manage_channels",
    "manage_roles",
    "send_messages",
    "embed_links",
    "read_message_history",
    "manage_messages",
    "pin_messages",
)
IN_OPS_ALERTS = ("view_channel", "send_messages", "embed_links", "read_message_history")


async def permission_gaps(
    client: discord.Client, guild: discord.Guild, config: Config
) -> list[str]:
    """One line per gap, naming the permission and where; empty when the bot has all."""
    assert client.user is not None
    me = await guild.fetch_member(client.user.id)
    guild._add_member(me)  # so that ``guild.me`` and channel permissions see the bot
    problems: list[str] = []
    missing = lacking(guild, REQUIRED)
    if missing:
        problems.append(
            f"discord: the bot's roles lack {_names(missing)} in the server; invite it with "
            f"{invite_url(client.application_id or client.user.id)} or grant them to its role"
        )
    channels = await guild.fetch_channels()
    where: list[tuple[str, discord.abc.GuildChannel | None, tuple[str, ...]]] = [
        (
            "discord.incidents_category",
            discord.utils.get(
                channels, name=config.discord.incidents_category, type=discord.ChannelType.category
            ),
            IN_CATEGORY,
        ),
        (
            "discord.ops_alerts_channel",
            discord.utils.get(
                channels, name=config.discord.ops_alerts_channel, type=discord.ChannelType.text
            ),
            IN_OPS_ALERTS,
        ),
    ]
    for key, channel, needs in where:
        if channel is None:
            continue  # a missing category is created; a missing channel is reported elsewhere
        gap = [p for p in lacking(channel, needs) if p not in missing]
        if gap:
            problems.append(
                f"{key}: the bot lacks {_names(gap)} in {place(channel)} "
                "(a channel overwrite takes it away)"
            )
    mention_everyone = me.guild_permissions.mention_everyone
    for key in ("admin_role", "comms_role"):
        name = getattr(config.discord, key)
        role = discord.utils.get(guild.roles, name=name)
        if role is not None and not role.mentionable and not mention_everyone:
            problems.append(
                f"discord.{key}: `{name}` is not mentionable and the bot lacks Mention Everyone: "
                "pages to it notify nobody (make the role mentionable, or grant Mention Everyone)"
            )
    return problems


def _names(permissions: list[str]) -> str:
    return ", ".join(label(p) for p in permissions)
