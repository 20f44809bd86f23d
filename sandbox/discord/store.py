"""The emulated guild's store: its users, roles, members, channels and messages, found by id or name.

The changes live in mixins on top of this (payloads.py, channels.py, messages.py), put
together as ``DiscordState`` in state.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import errors
from .model import (
    EVERYONE_PERMISSIONS,
    Attachment,
    Channel,
    Member,
    Message,
    Role,
    Snowflakes,
    User,
    now,
)

Dispatcher = Callable[[str, dict[str, Any]], None]


@dataclass
class Upload:
    """A file sent in a multipart request (``files[n]``)."""

    filename: str
    data: bytes
    content_type: str | None = None


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)


class GuildStore:
    """One guild, one bot application, and everything in them; every change is dispatched."""

    def __init__(self, *, bot_token: str, base_url: str = "") -> None:
        self.ids = Snowflakes()
        self.bot_token = bot_token
        self.base_url = base_url
        self.users: dict[int, User] = {}
        self.guild: Guild | None = None
        self.bot_user: User | None = None
        self.application_id = 0
        self.application_name = "Atrium Incident Bot"
        self.owner: User | None = None
        self.messages: dict[int, Message] = {}  # every message by id, ephemeral ones too
        self.loose_attachments: dict[int, Attachment] = {}  # attachment options of commands
        self.commands: dict[int | None, list[dict[str, Any]]] = {}  # guild id or None (global)
        self.listeners: list[Dispatcher] = []
        # The privileged intents the application was granted in the developer portal
        # (Server Members, Message Content; not Presence): IDENTIFY asking for another is
        # closed with 4014.
        self.privileged_intents = (1 << 1) | (1 << 15)

    # ------------------------------------------------------------------ events
    def dispatch(self, event: str, data: dict[str, Any]) -> None:
        for listener in list(self.listeners):
            listener(event, data)

    # ------------------------------------------------------------------ lookups
    def require_guild(self, guild_id: int | str) -> Guild:
        guild = self.guild
        if guild is None or str(guild.id) != str(guild_id):
            raise errors.unknown_guild()
        return guild

    @property
    def the_guild(self) -> Guild:
        assert self.guild is not None, "the world is not seeded"
        return self.guild

    def channel(self, channel_id: int | str) -> Channel:
        try:
            return self.the_guild.channels[int(channel_id)]
        except (KeyError, ValueError):
            raise errors.unknown_channel() from None

    def message(self, channel_id: int | str, message_id: int | str) -> Message:
        channel = self.channel(channel_id)
        try:
            return channel.messages[int(message_id)]
        except (KeyError, ValueError):
            raise errors.unknown_message() from None

    def member(self, user_id: int | str) -> Member:
        try:
            return self.the_guild.members[int(user_id)]
        except (KeyError, ValueError):
            raise errors.unknown_member() from None

    def role(self, role_id: int | str) -> Role:
        try:
            return self.the_guild.roles[int(role_id)]
        except (KeyError, ValueError):
            raise errors.unknown_role() from None

    def find_user(self, ref: int | str) -> User | None:
        """A user by id, or by username (the control API accepts both)."""
        text = str(ref).strip().removeprefix("@")
        if text.isdigit() and int(text) in self.users:
            return self.users[int(text)]
        return next((u for u in self.users.values() if u.username == text), None)

    def find_channel(self, ref: int | str) -> Channel | None:
        text = str(ref).strip().removeprefix("#")
        guild = self.the_guild
        if text.isdigit() and int(text) in guild.channels:
            return guild.channels[int(text)]
        return next((c for c in guild.channels.values() if c.name == text), None)

    def find_role(self, ref: int | str) -> Role | None:
        text = str(ref).strip().removeprefix("@")
        guild = self.the_guild
        if text.isdigit() and int(text) in guild.roles:
            return guild.roles[int(text)]
        return next((r for r in guild.roles.values() if r.name == text), None)

    # ------------------------------------------------------------------ seeding
    def add_user(self, username: str, *, global_name: str | None = None, bot: bool = False) -> User:
        user = User(id=self.ids.next(), username=username, global_name=global_name, bot=bot)
        self.users[user.id] = user
        return user

    def create_guild(self, name: str, owner: User) -> Guild:
        guild = Guild(id=self.ids.next(), name=name, owner_id=owner.id)
        guild.roles[guild.id] = Role(
            id=guild.id, name="@everyone", permissions=EVERYONE_PERMISSIONS, mentionable=False
        )
        self.guild = guild
        return guild

    def add_role(self, name: str, permissions: int = 0, **extra: Any) -> Role:
        guild = self.the_guild
        role = Role(
            id=self.ids.next(),
            name=name,
            permissions=permissions,
            position=len(guild.roles),
            **extra,
        )
        guild.roles[role.id] = role
        return role

    def add_member(self, user: User, roles: list[Role]) -> Member:
        member = Member(user=user, roles=[r.id for r in roles], joined_at=now())
        self.the_guild.members[user.id] = member
        return member
