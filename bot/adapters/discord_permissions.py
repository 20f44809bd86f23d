"""The Discord permissions the bot needs, and naming the one it lacked when Discord refuses.

Discord answers a missing permission with 403 ``50013 Missing Permissions`` and never
says which: the bot works it out from its own view of the guild (discord.py computes a
member's permissions in a channel the way Discord documents it) and names it, and where.
"""

from __future__ import annotations

from urllib.parse import urlencode

import discord

from bot.errors import UserError

# What the README's invite asks for, and check-config verifies: not Administrator.
REQUIRED = (
    "view_channel",
    "manage_channels",  # incident channels (and the incidents category's overflow)
    "manage_roles",  # channel overwrites: the commander's access
    "send_messages",
    "embed_links",
    "read_message_history",  # kickoff recovery, transcripts
    "manage_messages",  # removing a ✅ that may not approve
    "pin_messages",  # the kickoff (Manage Messages no longer covers pins, Feb 2026)
    "mention_everyone",  # pages to roles that are not mentionable
)
SCOPES = "bot applications.commands"
Place = discord.abc.GuildChannel | discord.Thread | discord.Guild


def required_permissions() -> discord.Permissions:
    return discord.Permissions(**dict.fromkeys(REQUIRED, True))


def invite_url(application_id: int | str) -> str:
    query = urlencode(
        {
            "client_id": str(application_id),
            "permissions": str(required_permissions().value),
            "scope": SCOPES,
        }
    )
    return f"https://discord.com/oauth2/authorize?{query}"


def label(permission: str) -> str:
    """``pin_messages`` → ``Pin Messages`` (as Discord's server settings name it)."""
    return permission.replace("_", " ").title().replace("In Threads", "in Threads")


def place(where: Place) -> str:
    if isinstance(where, discord.Guild):
        return "the server"
    if isinstance(where, discord.CategoryChannel):
        return f"the {where.name} category"
    return f"#{where.name}"


def lacking(
    where: Place,
    needs: tuple[str, ...],
) -> list[str]:
    """Which of ``needs`` the bot lacks ``where``, by its own cache of roles and overwrites."""
    guild = where if isinstance(where, discord.Guild) else where.guild
    me = guild.me
    if me is None:
        return list(needs)
    held = me.guild_permissions if isinstance(where, discord.Guild) else where.permissions_for(me)
    return [name for name in needs if not getattr(held, name)]


class MissingPermission(UserError):
    """Discord refused for want of a permission; the message names it and where."""

    def __init__(self, permissions: list[str], where: str) -> None:
        self.permissions = permissions
        self.where = where
        names = " and ".join(label(p) for p in permissions)
        plural = "s" if len(permissions) > 1 else ""
        super().__init__(
            f"The bot lacks the {names} permission{plural} in {where}: ask a server admin "
            "to grant it to the bot's role, then try again."
        )


def refusal(
    where: Place | None,
    needs: tuple[str, ...],
    error: discord.Forbidden,
) -> UserError:
    """The error for a 403: the permission named when the bot can tell which."""
    if where is None or not needs:
        return UserError(f"Discord refused: the bot lacks a permission ({error.text}).")
    missing = lacking(where, needs) or list(needs)
    return MissingPermission(missing, place(where))


def unnotified(
    channel: discord.TextChannel | discord.Thread,
    message: discord.Message,
    users: tuple[str, ...],
    roles: tuple[str, ...],
) -> str | None:
    """Why a page did not notify whom it names (Discord's answer lists what it parsed), as
    a line for the channel that pings nobody; None when everyone named was notified."""
    why = []
    parsed_roles = {role.id for role in message.role_mentions}  # from Discord's answer
    for role_id in roles:
        role = channel.guild.get_role(int(role_id))
        if role is not None and role.id not in parsed_roles:
            why.append(
                f"`@{role.name}` was not notified: the role is not mentionable and the bot "
                f"lacks the Mention Everyone permission in {place(channel)}"
            )
    for user_id in users:
        member = channel.guild.get_member(int(user_id))
        if member is not None and not channel.permissions_for(member).view_channel:
            name = discord.utils.escape_mentions(member.display_name)
            why.append(f"{name} was not notified: they cannot see {place(channel)}")
    return ("⚠️ " + "; ".join(why) + ".") if why else None
