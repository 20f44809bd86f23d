"""A member's permissions, computed as Discord documents it, and the 403 it answers.

https://discord.com/developers/docs/topics/permissions#permission-overwrites:
the guild owner holds everything; otherwise @everyone's permissions, then each role's
(Administrator grants everything); in a channel (a thread uses its parent's), the
@everyone overwrite, then the member's roles' overwrites together (deny, then allow),
then the member's own overwrite. Without View Channel a member has nothing in the
channel; without Send Messages, none of what sending carries (mentions, embeds, files).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import DiscordError

if TYPE_CHECKING:
    from .model import Channel
    from .store import Guild

CREATE_INSTANT_INVITE = 1 << 0
KICK_MEMBERS = 1 << 1
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
SEND_TTS_MESSAGES = 1 << 12
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_EXTERNAL_EMOJIS = 1 << 18
MANAGE_ROLES = 1 << 28
USE_APPLICATION_COMMANDS = 1 << 31
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
CREATE_PRIVATE_THREADS = 1 << 36
SEND_MESSAGES_IN_THREADS = 1 << 38
PIN_MESSAGES = 1 << 51  # since February 2026; Manage Messages no longer covers pins
BYPASS_SLOWMODE = 1 << 52
ALL_PERMISSIONS = (1 << 53) - 1

# What a channel without View Channel, or without Send Messages, takes away as well.
_SENDING = SEND_MESSAGES | SEND_TTS_MESSAGES | MENTION_EVERYONE | EMBED_LINKS | ATTACH_FILES

NAMES = {
    MANAGE_CHANNELS: "Manage Channels",
    ADD_REACTIONS: "Add Reactions",
    VIEW_CHANNEL: "View Channel",
    SEND_MESSAGES: "Send Messages",
    MANAGE_MESSAGES: "Manage Messages",
    EMBED_LINKS: "Embed Links",
    ATTACH_FILES: "Attach Files",
    READ_MESSAGE_HISTORY: "Read Message History",
    MENTION_EVERYONE: "Mention Everyone",
    MANAGE_ROLES: "Manage Roles",
    MANAGE_THREADS: "Manage Threads",
    CREATE_PUBLIC_THREADS: "Create Public Threads",
    CREATE_PRIVATE_THREADS: "Create Private Threads",
    SEND_MESSAGES_IN_THREADS: "Send Messages in Threads",
    PIN_MESSAGES: "Pin Messages",
}


def missing_permissions() -> DiscordError:
    return DiscordError(403, 50013, "Missing Permissions")


def base_permissions(guild: Guild, user_id: int) -> int:
    """The member's guild-wide permissions (owner and Administrator hold everything)."""
    if user_id == guild.owner_id:
        return ALL_PERMISSIONS
    member = guild.members.get(user_id)
    everyone = guild.roles.get(guild.id)
    permissions = everyone.permissions if everyone else 0
    for role_id in member.roles if member else []:
        role = guild.roles.get(role_id)
        if role is not None:
            permissions |= role.permissions
    if permissions & ADMINISTRATOR:
        return ALL_PERMISSIONS
    return permissions


def channel_permissions(guild: Guild, user_id: int, channel: Channel) -> int:
    """The member's permissions in ``channel``: base, then overwrites in Discord's order."""
    base = base_permissions(guild, user_id)
    if base & ADMINISTRATOR or base == ALL_PERMISSIONS:
        return ALL_PERMISSIONS
    if channel.is_thread and channel.parent_id in guild.channels:
        channel = guild.channels[channel.parent_id]
    overwrites = {str(o["id"]): o for o in channel.permission_overwrites}
    permissions = base
    everyone = overwrites.get(str(guild.id))
    if everyone is not None:
        permissions = (permissions & ~int(everyone["deny"])) | int(everyone["allow"])
    member = guild.members.get(user_id)
    allow = deny = 0
    for role_id in member.roles if member else []:
        overwrite = overwrites.get(str(role_id))
        if overwrite is not None and int(overwrite.get("type", 0)) == 0:
            allow |= int(overwrite["allow"])
            deny |= int(overwrite["deny"])
    permissions = (permissions & ~deny) | allow
    own = overwrites.get(str(user_id))
    if own is not None and int(own.get("type", 1)) == 1:
        permissions = (permissions & ~int(own["deny"])) | int(own["allow"])
    if not permissions & VIEW_CHANNEL:
        return 0
    if not permissions & SEND_MESSAGES:
        permissions &= ~_SENDING
    return permissions


def require(held: int, needed: int) -> None:
    """403 ``50013 Missing Permissions`` unless ``held`` has every bit of ``needed``."""
    if needed & ~held:
        raise missing_permissions()


def describe(bits: int) -> list[str]:
    return [name for bit, name in NAMES.items() if bits & bit]
