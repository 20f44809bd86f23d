"""Channels and threads: create, edit, move, delete, overwrites; Discord's per-guild and
per-category limits."""

from __future__ import annotations

from typing import Any

from . import errors, limits
from .model import (
    HAS_THREAD,
    Channel,
    now,
)
from .payloads import Payloads

GUILD_CHANNEL_TYPES = {0, 2, 4, 5, 13, 15}


class Channels(Payloads):
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
