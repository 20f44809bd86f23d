"""The emulated guild: its members, roles, channels and messages, and every change to them.

Each change validates Discord's limits, mutates the model and dispatches the gateway
event Discord would send. The REST routes and the control API both go through here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import errors, limits
from .model import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    EPHEMERAL,
    EVERYONE_PERMISSIONS,
    HAS_THREAD,
    Attachment,
    Channel,
    Member,
    Message,
    Reaction,
    Role,
    Snowflakes,
    User,
    iso,
    now,
)

Dispatcher = Callable[[str, dict[str, Any]], None]

USER_MENTION = re.compile(r"<@!?(\d+)>")
ROLE_MENTION = re.compile(r"<@&(\d+)>")
TEXT_LIKE = {0, 5, 10, 11, 12}
GUILD_CHANNEL_TYPES = {0, 2, 4, 5, 13, 15}


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


class DiscordState:
    """One guild, one bot application, and everything in them."""

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

    # ------------------------------------------------------------------ payloads
    def permissions(self, user_id: int) -> int:
        guild = self.the_guild
        if user_id == guild.owner_id:
            return ALL_PERMISSIONS
        member = guild.members.get(user_id)
        value = guild.roles[guild.id].permissions
        for role_id in member.roles if member else []:
            role = guild.roles.get(role_id)
            value |= role.permissions if role else 0
        return ALL_PERMISSIONS if value & ADMINISTRATOR else value

    def member_payload(self, user_id: int, *, with_user: bool = True) -> dict[str, Any]:
        member = self.member(user_id)
        return member.payload(with_user=with_user, permissions=self.permissions(user_id))

    def message_payload(self, message: Message, *, referenced: bool = True) -> dict[str, Any]:
        author = self.users.get(message.author_id) or User(id=message.author_id, username="unknown")
        mention_ids = [int(m) for m in USER_MENTION.findall(message.content)]
        mentions = []
        for user_id in dict.fromkeys(mention_ids):
            user = self.users.get(user_id)
            if user is None:
                continue
            body = user.payload()
            if user_id in self.the_guild.members:
                body["member"] = self.the_guild.members[user_id].payload(with_user=False)
            mentions.append(body)
        bot_id = self.bot_user.id if self.bot_user else 0
        body: dict[str, Any] = {
            "id": str(message.id),
            "type": message.type,
            "content": message.content,
            "channel_id": str(message.channel_id),
            "guild_id": str(message.guild_id),
            "author": author.payload(),
            "embeds": [dict(e) for e in message.embeds],
            "attachments": [a.payload() for a in message.attachments],
            "mentions": mentions,
            "mention_roles": list(dict.fromkeys(ROLE_MENTION.findall(message.content))),
            "mention_everyone": "@everyone" in message.content or "@here" in message.content,
            "mention_channels": [],
            "pinned": message.pinned,
            "tts": message.tts,
            "timestamp": iso(message.created_at),
            "edited_timestamp": iso(message.edited_at),
            "flags": message.flags,
            "components": [dict(c) for c in message.components],
            "sticker_items": [],
            "reactions": [
                {
                    "emoji": dict(r.emoji),
                    "count": len(r.user_ids),
                    "count_details": {"burst": 0, "normal": len(r.user_ids)},
                    "me": bot_id in r.user_ids,
                    "me_burst": False,
                    "burst_colors": [],
                }
                for r in message.reactions
            ],
        }
        if message.author_id in self.the_guild.members and message.webhook_id is None:
            body["member"] = self.the_guild.members[message.author_id].payload(with_user=False)
        if message.nonce is not None:
            body["nonce"] = message.nonce
        if message.webhook_id is not None:
            body["webhook_id"] = str(message.webhook_id)
        if message.application_id is not None:
            body["application_id"] = str(message.application_id)
        if message.interaction_metadata is not None:
            body["interaction_metadata"] = message.interaction_metadata
        if message.message_reference is not None:
            body["message_reference"] = message.message_reference
            if referenced:
                ref = self.messages.get(int(message.message_reference.get("message_id") or 0))
                body["referenced_message"] = (
                    self.message_payload(ref, referenced=False) if ref else None
                )
        if message.thread_id is not None and message.thread_id in self.the_guild.channels:
            body["thread"] = self.the_guild.channels[message.thread_id].payload()
        return body

    def guild_payload(self, *, for_gateway: bool, with_members: bool = True) -> dict[str, Any]:
        guild = self.the_guild
        body: dict[str, Any] = {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(guild.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": "en-US",
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "application_id": None,
            "vanity_url_code": None,
            "max_members": 500000,
            "features": [],
            "roles": [r.payload() for r in guild.roles.values()],
            "emojis": [],
            "stickers": [],
        }
        if for_gateway:
            members = list(guild.members.values())
            if not with_members and self.bot_user is not None:
                members = [m for m in members if m.user.id == self.bot_user.id]
            body.update(
                unavailable=False,
                large=False,
                joined_at=iso(guild.members[self.bot_user.id].joined_at) if self.bot_user else None,
                member_count=len(guild.members),
                members=[m.payload() for m in members],
                channels=[c.payload() for c in guild.channels.values() if not c.is_thread],
                threads=[
                    c.payload() for c in guild.channels.values() if c.is_thread and not c.archived
                ],
                voice_states=[],
                presences=[],
                stage_instances=[],
                guild_scheduled_events=[],
                soundboard_sounds=[],
            )
        return body

    def application_payload(self) -> dict[str, Any]:
        assert self.bot_user is not None and self.owner is not None
        return {
            "id": str(self.application_id),
            "name": self.application_name,
            "description": "Runs Atrium's incident-response procedure.",
            "icon": None,
            "cover_image": None,
            "bot_public": False,
            "bot_require_code_grant": False,
            "owner": self.owner.payload(),
            "team": None,
            "verify_key": "0" * 64,
            "flags": 1 << 23,  # GATEWAY_MESSAGE_CONTENT_LIMITED... informational only
            "bot": self.bot_user.payload(),
            "tags": [],
            "summary": "",
            "rpc_origins": [],
            "terms_of_service_url": None,
            "privacy_policy_url": None,
            "custom_install_url": None,
            "role_connections_verification_url": None,
            "interactions_endpoint_url": None,
            "approximate_guild_count": 1,
            "redirect_uris": [],
        }

    # ------------------------------------------------------------------ channels
    def _guild_channel_count(self) -> int:
        return sum(1 for c in self.the_guild.channels.values() if not c.is_thread)

    def _check_parent(self, parent_id: Any, moving: Channel | None = None) -> int | None:
        if parent_id in (None, "", 0, "0"):
            return None
        guild = self.the_guild
        parent = guild.channels.get(int(parent_id)) if str(parent_id).isdigit() else None
        if parent is None or parent.type != 4:
            raise errors.invalid_form_body(
                {"parent_id": errors.field_error("CHANNEL_PARENT_INVALID_TYPE", "Not a category")}
            )
        if moving is not None and moving.parent_id == parent.id:
            return parent.id
        children = [
            c for c in guild.channels.values() if c.parent_id == parent.id and not c.is_thread
        ]
        if len(children) >= limits.MAX_CHANNELS_PER_CATEGORY:
            raise limits.category_limit()
        return parent.id

    def create_channel(self, body: dict[str, Any]) -> Channel:
        guild = self.the_guild
        channel_type = int(body.get("type") or 0)
        if channel_type not in GUILD_CHANNEL_TYPES:
            raise errors.invalid_form_body(
                {
                    "type": errors.field_error(
                        "BASE_TYPE_CHOICES", "Value must be one of (0, 2, 4, 5, 13, 15)."
                    )
                }
            )
        name = limits.check_channel_name(body.get("name"), channel_type)
        if self._guild_channel_count() >= limits.MAX_CHANNELS_PER_GUILD:
            raise limits.guild_channel_limit()
        parent_id = None if channel_type == 4 else self._check_parent(body.get("parent_id"))
        siblings = [c.position for c in guild.channels.values() if c.parent_id == parent_id]
        channel = Channel(
            id=self.ids.next(),
            type=channel_type,
            name=name,
            guild_id=guild.id,
            parent_id=parent_id,
            position=int(body["position"])
            if body.get("position") is not None
            else max(siblings, default=-1) + 1,
            topic=body.get("topic"),
            nsfw=bool(body.get("nsfw", False)),
            rate_limit_per_user=int(body.get("rate_limit_per_user") or 0),
            permission_overwrites=[_overwrite(o) for o in body.get("permission_overwrites") or []],
        )
        guild.channels[channel.id] = channel
        self.dispatch("CHANNEL_CREATE", channel.payload())
        return channel

    def edit_channel(self, channel_id: int | str, body: dict[str, Any]) -> Channel:
        channel = self.channel(channel_id)
        if channel.is_thread:
            return self._edit_thread(channel, body)
        if "name" in body:
            channel.name = limits.check_channel_name(body["name"], channel.type)
        if "topic" in body:
            topic = body["topic"]
            if topic is not None and len(topic) > 1024:
                raise errors.invalid_form_body({"topic": errors.max_length(1024)})
            channel.topic = topic
        if "parent_id" in body and channel.type != 4:
            channel.parent_id = self._check_parent(body["parent_id"], moving=channel)
        if body.get("position") is not None:
            channel.position = int(body["position"])
        if "nsfw" in body:
            channel.nsfw = bool(body["nsfw"])
        if "rate_limit_per_user" in body:
            channel.rate_limit_per_user = int(body["rate_limit_per_user"] or 0)
        if "permission_overwrites" in body:
            channel.permission_overwrites = [
                _overwrite(o) for o in body["permission_overwrites"] or []
            ]
        self.dispatch("CHANNEL_UPDATE", channel.payload())
        return channel

    def _edit_thread(self, thread: Channel, body: dict[str, Any]) -> Channel:
        if "name" in body:
            thread.name = limits.check_channel_name(body["name"], thread.type)
        for key in ("archived", "locked"):
            if key in body:
                setattr(thread, key, bool(body[key]))
                if key == "archived":
                    thread.archive_timestamp = now()
        if body.get("auto_archive_duration"):
            thread.auto_archive_duration = int(body["auto_archive_duration"])
        self.dispatch("THREAD_UPDATE", thread.payload())
        return thread

    def move_channels(self, moves: list[dict[str, Any]]) -> None:
        """``PATCH /guilds/{g}/channels``: positions (and parents) in bulk."""
        changed = []
        for move in moves:
            channel = self.channel(move["id"])
            if "parent_id" in move and channel.type != 4:
                channel.parent_id = self._check_parent(move["parent_id"], moving=channel)
            if move.get("position") is not None:
                channel.position = int(move["position"])
            changed.append(channel)
        for channel in changed:
            self.dispatch("CHANNEL_UPDATE", channel.payload())

    def delete_channel(self, channel_id: int | str) -> Channel:
        channel = self.channel(channel_id)
        guild = self.the_guild
        del guild.channels[channel.id]
        for message_id in channel.messages:
            self.messages.pop(message_id, None)
        if channel.is_thread:
            self.dispatch(
                "THREAD_DELETE",
                {
                    "id": str(channel.id),
                    "guild_id": str(guild.id),
                    "parent_id": str(channel.parent_id),
                    "type": channel.type,
                },
            )
            return channel
        self.dispatch("CHANNEL_DELETE", channel.payload())
        for child in list(guild.channels.values()):
            if child.parent_id == channel.id and not child.is_thread:
                child.parent_id = None
                self.dispatch("CHANNEL_UPDATE", child.payload())
            elif child.parent_id == channel.id:
                self.delete_channel(child.id)
        return channel

    def set_overwrite(
        self, channel_id: int | str, target_id: int | str, body: dict[str, Any]
    ) -> None:
        channel = self.channel(channel_id)
        overwrite = _overwrite({**body, "id": target_id})
        channel.permission_overwrites = [
            o for o in channel.permission_overwrites if o["id"] != overwrite["id"]
        ] + [overwrite]
        self.dispatch("CHANNEL_UPDATE", channel.payload())

    def delete_overwrite(self, channel_id: int | str, target_id: int | str) -> None:
        channel = self.channel(channel_id)
        channel.permission_overwrites = [
            o for o in channel.permission_overwrites if o["id"] != str(target_id)
        ]
        self.dispatch("CHANNEL_UPDATE", channel.payload())

    # ------------------------------------------------------------------ members
    def set_member_roles(self, user_id: int | str, roles: list[int]) -> Member:
        member = self.member(user_id)
        for role_id in roles:
            self.role(role_id)
        member.roles = list(dict.fromkeys(r for r in roles if r != self.the_guild.id))
        self.dispatch(
            "GUILD_MEMBER_UPDATE", {**member.payload(), "guild_id": str(self.the_guild.id)}
        )
        return member

    def edit_member(self, user_id: int | str, body: dict[str, Any]) -> Member:
        member = self.member(user_id)
        if "nick" in body:
            member.nick = body["nick"] or None
        if "roles" in body:
            return self.set_member_roles(user_id, [int(r) for r in body["roles"] or []])
        self.dispatch(
            "GUILD_MEMBER_UPDATE", {**member.payload(), "guild_id": str(self.the_guild.id)}
        )
        return member

    # ------------------------------------------------------------------ messages
    def create_message(
        self,
        channel_id: int | str,
        author_id: int,
        payload: dict[str, Any],
        uploads: list[Upload] | None = None,
        *,
        message_type: int | None = None,
        extra_flags: int = 0,
        interaction_metadata: dict[str, Any] | None = None,
        webhook_id: int | None = None,
        validate: bool = True,
    ) -> Message:
        channel = self.channel(channel_id)
        if channel.type not in TEXT_LIKE:
            raise errors.DiscordError(400, 50008, "Cannot send messages in a non-text channel")
        uploads = uploads or []
        if validate:
            limits.check_message(payload, has_files=bool(uploads))
        reference = payload.get("message_reference")
        if reference:
            ref_id = int(reference.get("message_id") or 0)
            if ref_id not in channel.messages and reference.get("fail_if_not_exists", True):
                raise errors.invalid_form_body(
                    {
                        "message_reference": errors.field_error(
                            "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
                        )
                    }
                )
            reference = {
                "type": 0,
                "message_id": str(ref_id),
                "channel_id": str(channel.id),
                "guild_id": str(channel.guild_id),
            }
        flags = int(payload.get("flags") or 0) | extra_flags
        message = Message(
            id=self.ids.next(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author_id=author_id,
            content=str(payload.get("content") or ""),
            embeds=[_embed(e) for e in payload.get("embeds") or []],
            components=list(payload.get("components") or []),
            attachments=self._attachments(payload, uploads),
            type=message_type if message_type is not None else (19 if reference else 0),
            flags=flags,
            tts=bool(payload.get("tts", False)),
            message_reference=reference or None,
            interaction_metadata=interaction_metadata,
            application_id=self.application_id if interaction_metadata else None,
            webhook_id=webhook_id,
            nonce=payload.get("nonce"),
        )
        self.messages[message.id] = message
        if message.flags & EPHEMERAL:
            return message  # only the invoking user sees it: no channel entry, no event
        channel.messages[message.id] = message
        channel.last_message_id = message.id
        if channel.is_thread:
            channel.message_count += 1
        self.dispatch("MESSAGE_CREATE", self.message_payload(message))
        return message

    def _attachments(self, payload: dict[str, Any], uploads: list[Upload]) -> list[Attachment]:
        described = {
            str(a.get("id")): a for a in payload.get("attachments") or [] if isinstance(a, dict)
        }
        result = []
        for index, upload in enumerate(uploads):
            meta = described.get(str(index), {})
            attachment_id = self.ids.next()
            filename = meta.get("filename") or upload.filename
            result.append(
                Attachment(
                    id=attachment_id,
                    filename=filename,
                    data=upload.data,
                    content_type=upload.content_type,
                    description=meta.get("description"),
                    url=f"{self.base_url}/attachments/{attachment_id}/{filename}",
                )
            )
        return result

    def attachment(self, attachment_id: int) -> Attachment | None:
        if attachment_id in self.loose_attachments:
            return self.loose_attachments[attachment_id]
        for message in self.messages.values():
            for attachment in message.attachments:
                if attachment.id == attachment_id:
                    return attachment
        return None

    def edit_message(
        self,
        message: Message,
        payload: dict[str, Any],
        uploads: list[Upload] | None = None,
        *,
        editor_id: int | None = None,
    ) -> Message:
        if (
            editor_id is not None
            and message.author_id != editor_id
            and ("content" in payload or "embeds" in payload or uploads)
        ):
            raise errors.DiscordError(403, 50005, "Cannot edit a message authored by another user")
        content = message.content if "content" not in payload else str(payload["content"] or "")
        embeds = message.embeds if "embeds" not in payload else list(payload["embeds"] or [])
        limits.check_message({"content": content, "embeds": embeds}, require_something=False)
        attachments = message.attachments
        if "attachments" in payload:
            kept = {str(a.get("id")) for a in payload["attachments"] or [] if isinstance(a, dict)}
            attachments = [a for a in attachments if str(a.id) in kept]
        attachments = attachments + self._attachments(payload, uploads or [])
        components = message.components
        if "components" in payload:
            components = list(payload["components"] or [])
        if not (content or embeds or attachments or components):
            raise errors.DiscordError(400, 50006, "Cannot send an empty message")
        message.content = content
        message.embeds = [_embed(e) for e in embeds]
        message.attachments = attachments
        message.components = components
        if "flags" in payload and payload["flags"] is not None:
            keep = message.flags & EPHEMERAL
            message.flags = int(payload["flags"]) | keep
        message.edited_at = now()
        if not message.ephemeral:
            self.dispatch("MESSAGE_UPDATE", self.message_payload(message))
        return message

    def delete_message(self, message: Message) -> None:
        self.messages.pop(message.id, None)
        if message.ephemeral:
            return
        channel = self.channel(message.channel_id)
        channel.messages.pop(message.id, None)
        channel.pins = [(m, at) for m, at in channel.pins if m != message.id]
        self.dispatch(
            "MESSAGE_DELETE",
            {
                "id": str(message.id),
                "channel_id": str(channel.id),
                "guild_id": str(channel.guild_id),
            },
        )

    def history(
        self,
        channel_id: int | str,
        *,
        limit: int = 50,
        before: int | None = None,
        after: int | None = None,
        around: int | None = None,
    ) -> list[Message]:
        """Newest first, whichever cursor is given (as Discord answers)."""
        channel = self.channel(channel_id)
        ordered = sorted(channel.messages.values(), key=lambda m: m.id)
        if around is not None:
            older = [m for m in ordered if m.id < around][-(limit // 2) :] if limit // 2 else []
            newer = [m for m in ordered if m.id >= around][: limit - len(older)]
            selected = older + newer
        elif after is not None:
            selected = [m for m in ordered if m.id > after][:limit]
        elif before is not None:
            selected = [m for m in ordered if m.id < before][-limit:]
        else:
            selected = ordered[-limit:]
        return list(reversed(selected))

    # ------------------------------------------------------------------ reactions
    def add_reaction(self, message: Message, emoji: dict[str, Any], user_id: int) -> None:
        reaction = message.reaction(emoji)
        if reaction is None:
            if len(message.reactions) >= limits.MAX_REACTIONS:
                raise limits.reactions_limit()
            reaction = Reaction(emoji={"id": emoji.get("id"), "name": emoji.get("name")})
            message.reactions.append(reaction)
        if user_id in reaction.user_ids:
            return
        reaction.user_ids.append(user_id)
        event = self._reaction_event(message, reaction.emoji, user_id)
        event["member"] = (
            self.member_payload(user_id) if user_id in self.the_guild.members else None
        )
        event["message_author_id"] = str(message.author_id)
        self.dispatch("MESSAGE_REACTION_ADD", event)

    def remove_reaction(self, message: Message, emoji: dict[str, Any], user_id: int) -> None:
        reaction = message.reaction(emoji)
        if reaction is None or user_id not in reaction.user_ids:
            return
        reaction.user_ids.remove(user_id)
        if not reaction.user_ids:
            message.reactions.remove(reaction)
        self.dispatch(
            "MESSAGE_REACTION_REMOVE", self._reaction_event(message, reaction.emoji, user_id)
        )

    def clear_reactions(self, message: Message, emoji: dict[str, Any] | None = None) -> None:
        base = {
            "channel_id": str(message.channel_id),
            "message_id": str(message.id),
            "guild_id": str(message.guild_id),
        }
        if emoji is None:
            message.reactions.clear()
            self.dispatch("MESSAGE_REACTION_REMOVE_ALL", base)
            return
        reaction = message.reaction(emoji)
        if reaction is not None:
            message.reactions.remove(reaction)
            self.dispatch("MESSAGE_REACTION_REMOVE_EMOJI", {**base, "emoji": reaction.emoji})

    def _reaction_event(
        self, message: Message, emoji: dict[str, Any], user_id: int
    ) -> dict[str, Any]:
        return {
            "user_id": str(user_id),
            "channel_id": str(message.channel_id),
            "message_id": str(message.id),
            "guild_id": str(message.guild_id),
            "emoji": dict(emoji),
            "type": 0,
            "burst": False,
            "burst_colors": [],
        }

    # ------------------------------------------------------------------ pins
    def pin(self, message: Message, by_user_id: int) -> None:
        channel = self.channel(message.channel_id)
        if message.pinned:
            return
        if len(channel.pins) >= limits.MAX_PINS:
            raise limits.pins_limit()
        pinned_at = now()
        message.pinned = True
        channel.pins.insert(0, (message.id, pinned_at))
        channel.last_pin_timestamp = pinned_at
        self.dispatch("MESSAGE_UPDATE", self.message_payload(message))
        self._pins_update(channel)
        # Discord announces a pin with a system message (type 6, CHANNEL_PINNED_MESSAGE).
        self.create_message(
            channel.id,
            by_user_id,
            {"message_reference": {"message_id": message.id}},
            message_type=6,
            validate=False,
        )

    def unpin(self, message: Message) -> None:
        channel = self.channel(message.channel_id)
        if not message.pinned:
            return
        message.pinned = False
        channel.pins = [(m, at) for m, at in channel.pins if m != message.id]
        channel.last_pin_timestamp = channel.pins[0][1] if channel.pins else None
        self.dispatch("MESSAGE_UPDATE", self.message_payload(message))
        self._pins_update(channel)

    def _pins_update(self, channel: Channel) -> None:
        self.dispatch(
            "CHANNEL_PINS_UPDATE",
            {
                "guild_id": str(channel.guild_id),
                "channel_id": str(channel.id),
                "last_pin_timestamp": iso(channel.last_pin_timestamp),
            },
        )

    # ------------------------------------------------------------------ threads
    def start_thread(
        self,
        channel_id: int | str,
        body: dict[str, Any],
        owner_id: int,
        *,
        message_id: int | str | None = None,
    ) -> Channel:
        parent = self.channel(channel_id)
        if parent.type not in (0, 5, 15):
            raise errors.DiscordError(400, 50024, "Cannot execute action on this channel type")
        starter = None
        if message_id is not None:
            starter = self.message(parent.id, message_id)
            if starter.thread_id is not None:
                raise errors.DiscordError(
                    400, 160004, "A thread has already been created for this message"
                )
        name = limits.check_channel_name(body.get("name"), 11)
        thread_type = 11 if starter is not None else int(body.get("type") or 12)
        thread = Channel(
            id=starter.id if starter is not None else self.ids.next(),
            type=thread_type,
            name=name,
            guild_id=parent.guild_id,
            parent_id=parent.id,
            owner_id=owner_id,
            auto_archive_duration=int(body.get("auto_archive_duration") or 1440),
            rate_limit_per_user=int(body.get("rate_limit_per_user") or 0),
            member_ids=[owner_id],
        )
        self.the_guild.channels[thread.id] = thread
        if starter is not None:
            starter.thread_id = thread.id
            starter.flags |= HAS_THREAD
        self.dispatch("THREAD_CREATE", {**thread.payload(), "newly_created": True})
        if starter is not None:
            self.dispatch("MESSAGE_UPDATE", self.message_payload(starter))
        return thread


def _overwrite(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(raw["id"]),
        "type": int(raw.get("type") or 0),
        "allow": str(raw.get("allow") or 0),
        "deny": str(raw.get("deny") or 0),
    }


def _embed(raw: dict[str, Any]) -> dict[str, Any]:
    embed = dict(raw)
    embed.setdefault("type", "rich")
    return embed
