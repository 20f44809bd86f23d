"""The emulator's entities (users, roles, members, channels, messages) and their wire payloads."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from . import permissions as perms

DISCORD_EPOCH_MS = 1420070400000

# Permission bits: sandbox/discord/permissions.py.
EVERYONE_PERMISSIONS = (
    perms.ADD_REACTIONS
    | perms.VIEW_CHANNEL
    | perms.SEND_MESSAGES
    | perms.EMBED_LINKS
    | perms.ATTACH_FILES
    | perms.READ_MESSAGE_HISTORY
    | perms.USE_EXTERNAL_EMOJIS
    | perms.USE_APPLICATION_COMMANDS
    | perms.CREATE_PUBLIC_THREADS
    | perms.SEND_MESSAGES_IN_THREADS
)
MANAGER_PERMISSIONS = (
    perms.MANAGE_CHANNELS | perms.MANAGE_MESSAGES | perms.MANAGE_ROLES | perms.MANAGE_THREADS
)

# Message flags.
EPHEMERAL = 1 << 6
LOADING = 1 << 7
HAS_THREAD = 1 << 5


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


class Snowflakes:
    """Discord snowflakes from the wall clock, strictly increasing."""

    def __init__(self) -> None:
        self._last = 0
        self._increment = itertools.count()

    def next(self, at: datetime | None = None) -> int:
        moment = at or now()
        millis = int(moment.timestamp() * 1000) - DISCORD_EPOCH_MS
        candidate = (millis << 22) | (1 << 17) | (next(self._increment) & 0xFFF)
        self._last = max(self._last + 1, candidate)
        return self._last


def snowflake_time(snowflake: int) -> datetime:
    return datetime.fromtimestamp(((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000, UTC)


@dataclass
class User:
    id: int
    username: str
    global_name: str | None = None
    bot: bool = False

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0" if not self.bot else "0001",
            "global_name": self.global_name,
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
            "primary_guild": None,
        }


@dataclass
class Role:
    id: int
    name: str
    permissions: int = 0
    position: int = 0
    managed: bool = False
    mentionable: bool = False  # Discord's default for a new role
    color: int = 0
    hoist: bool = False
    bot_id: int | None = None

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": self.color,
            "colors": {
                "primary_color": self.color,
                "secondary_color": None,
                "tertiary_color": None,
            },
            "hoist": self.hoist,
            "managed": self.managed,
            "mentionable": self.mentionable,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }
        if self.bot_id is not None:
            body["tags"] = {"bot_id": str(self.bot_id)}
        return body


@dataclass
class Member:
    user: User
    roles: list[int]
    joined_at: datetime
    nick: str | None = None

    def payload(self, *, with_user: bool = True, permissions: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "roles": [str(role) for role in self.roles],
            "joined_at": iso(self.joined_at),
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "flags": 0,
            "pending": False,
            "deaf": False,
            "mute": False,
            "premium_since": None,
            "communication_disabled_until": None,
        }
        if with_user:
            body["user"] = self.user.payload()
        if permissions is not None:
            body["permissions"] = str(permissions)
        return body


THREAD_TYPES = {10, 11, 12}


@dataclass
class Channel:
    id: int
    type: int
    name: str
    guild_id: int
    position: int = 0
    parent_id: int | None = None
    topic: str | None = None
    nsfw: bool = False
    rate_limit_per_user: int = 0
    permission_overwrites: list[dict[str, Any]] = field(default_factory=list)
    last_message_id: int | None = None
    last_pin_timestamp: datetime | None = None
    # threads only
    owner_id: int | None = None
    archived: bool = False
    locked: bool = False
    auto_archive_duration: int = 1440
    archive_timestamp: datetime | None = None
    created_at: datetime = field(default_factory=now)
    message_count: int = 0
    member_ids: list[int] = field(default_factory=list)
    # contents
    messages: dict[int, Message] = field(default_factory=dict)
    pins: list[tuple[int, datetime]] = field(default_factory=list)  # (message id, pinned at)

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "parent_id": None if self.parent_id is None else str(self.parent_id),
            "nsfw": self.nsfw,
            "flags": 0,
            "rate_limit_per_user": self.rate_limit_per_user,
            "last_message_id": None if self.last_message_id is None else str(self.last_message_id),
            "last_pin_timestamp": iso(self.last_pin_timestamp),
        }
        if self.is_thread:
            body.update(
                owner_id=str(self.owner_id),
                message_count=self.message_count,
                total_message_sent=self.message_count,
                member_count=len(self.member_ids),
                thread_metadata={
                    "archived": self.archived,
                    "locked": self.locked,
                    "auto_archive_duration": self.auto_archive_duration,
                    "archive_timestamp": iso(self.archive_timestamp or self.created_at),
                    "create_timestamp": iso(self.created_at),
                    "invitable": True,
                },
            )
        else:
            body.update(
                position=self.position,
                permission_overwrites=list(self.permission_overwrites),
                topic=self.topic,
            )
            if self.type == 0:
                body["default_auto_archive_duration"] = 1440
        return body


@dataclass
class Attachment:
    id: int
    filename: str
    data: bytes
    content_type: str | None = None
    description: str | None = None
    url: str = ""

    @property
    def text(self) -> str | None:
        try:
            return self.data.decode("utf-8")
        except UnicodeDecodeError:
            return None

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": str(self.id),
            "filename": self.filename,
            "size": len(self.data),
            "url": self.url,
            "proxy_url": self.url,
        }
        if self.content_type:
            body["content_type"] = self.content_type
        if self.description:
            body["description"] = self.description
        return body


@dataclass
class Reaction:
    emoji: dict[str, Any]  # {"id": str | None, "name": str}
    user_ids: list[int] = field(default_factory=list)

    @property
    def key(self) -> str:
        return emoji_key(self.emoji)


def emoji_key(emoji: dict[str, Any]) -> str:
    return str(emoji["id"]) if emoji.get("id") else str(emoji["name"])


def parse_emoji(raw: str) -> dict[str, Any]:
    """``"👍"`` → unicode; ``"name:123"`` or ``"<:name:123>"`` → custom emoji."""
    text = raw.strip().removeprefix("<").removesuffix(">")
    animated = text.startswith("a:")
    if animated:
        text = text[2:]
    name, sep, emoji_id = text.rpartition(":")
    if sep and emoji_id.isdigit():
        return {"id": emoji_id, "name": name.lstrip(":") or None, "animated": animated}
    return {"id": None, "name": raw}


def emoji_text(emoji: dict[str, Any]) -> str:
    return f"{emoji['name']}:{emoji['id']}" if emoji.get("id") else str(emoji["name"])


@dataclass
class Message:
    id: int
    channel_id: int
    guild_id: int
    author_id: int
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    type: int = 0
    flags: int = 0
    pinned: bool = False
    tts: bool = False
    created_at: datetime = field(default_factory=now)
    edited_at: datetime | None = None
    reactions: list[Reaction] = field(default_factory=list)
    message_reference: dict[str, Any] | None = None
    interaction_metadata: dict[str, Any] | None = None
    application_id: int | None = None
    webhook_id: int | None = None
    thread_id: int | None = None
    nonce: str | int | None = None
    # what the message mentions (allowed_mentions and the author's permissions applied),
    # and whom it notified when it was posted (sandbox/discord/mentions.py)
    mention_user_ids: list[int] = field(default_factory=list)
    mention_role_ids: list[int] = field(default_factory=list)
    mention_everyone: bool = False
    notified_user_ids: list[int] = field(default_factory=list)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    def reaction(self, emoji: dict[str, Any]) -> Reaction | None:
        key = emoji_key(emoji)
        return next((r for r in self.reactions if r.key == key), None)
