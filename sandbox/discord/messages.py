"""Messages, their attachments, reactions and pins: each change checked against Discord's limits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from . import component_checks, errors, limits, mentions
from .model import (
    EPHEMERAL,
    Attachment,
    Channel,
    Message,
    Reaction,
    iso,
    now,
    snowflake_time,
)
from .payloads import Payloads
from .store import Upload

TEXT_LIKE = {0, 5, 10, 11, 12}
NONCE_WINDOW = timedelta(minutes=5)


class Messages(Payloads):
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
        earlier = self._same_nonce(channel, author_id, payload)
        if earlier is not None:
            return earlier  # enforce_nonce: the message already sent, not a second one
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
        message_id = self.ids.next()
        message = Message(
            id=message_id,
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author_id=author_id,
            content=str(payload.get("content") or ""),
            embeds=[_embed(e) for e in payload.get("embeds") or []],
            components=component_checks.stored(list(payload.get("components") or [])),
            attachments=self._attachments(payload, uploads),
            type=message_type if message_type is not None else (19 if reference else 0),
            flags=flags,
            tts=bool(payload.get("tts", False)),
            message_reference=reference or None,
            interaction_metadata=interaction_metadata,
            application_id=self.application_id if interaction_metadata else None,
            webhook_id=webhook_id,
            nonce=payload.get("nonce"),
            # Discord's timestamp is the snowflake's own moment (to the millisecond).
            created_at=snowflake_time(message_id),
        )
        self._mention(message, channel, payload.get("allowed_mentions"), notify=True)
        self.messages[message.id] = message
        if message.flags & EPHEMERAL:
            return message  # only the invoking user sees it: no channel entry, no event
        channel.messages[message.id] = message
        channel.last_message_id = message.id
        if channel.is_thread:
            channel.message_count += 1
        self.dispatch("MESSAGE_CREATE", self.message_payload(message))
        return message

    def _same_nonce(
        self, channel: Channel, author_id: int, payload: dict[str, Any]
    ) -> Message | None:
        """With ``enforce_nonce``, Discord answers a nonce the author used in the channel in
        the last few minutes with that message instead of posting again."""
        nonce = payload.get("nonce")
        if nonce is None or not payload.get("enforce_nonce"):
            return None
        recent = now() - NONCE_WINDOW
        for message in reversed(channel.messages.values()):
            if message.created_at < recent:
                break
            if message.author_id == author_id and str(message.nonce) == str(nonce):
                return message
        return None

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
        first_content: bool = False,
    ) -> Message:
        """``first_content``: a deferred "thinking" message filled, which notifies as a new
        message does; a later edit updates the mentions and notifies no one."""
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
            flags = int(payload.get("flags") or message.flags)
            component_checks.check_message_components(components, flags)
            components = component_checks.stored(components)
        if not (content or embeds or attachments or components):
            raise errors.DiscordError(400, 50006, "Cannot send an empty message")
        message.content = content
        message.embeds = [_embed(e) for e in embeds]
        message.attachments = attachments
        message.components = components
        if "flags" in payload and payload["flags"] is not None:
            # An edit never changes who sees the message: a deferred message keeps the
            # defer's ephemerality whatever the follow-up that fills it asks for.
            keep = message.flags & EPHEMERAL
            message.flags = (int(payload["flags"]) & ~EPHEMERAL) | keep
        if "content" in payload or "allowed_mentions" in payload:
            channel = self.channel(message.channel_id)
            self._mention(message, channel, payload.get("allowed_mentions"), notify=first_content)
        message.edited_at = now()
        if not message.ephemeral:
            self.dispatch("MESSAGE_UPDATE", self.message_payload(message))
        return message

    def _mention(self, message: Message, channel: Channel, allowed: Any, *, notify: bool) -> None:
        reference = message.message_reference
        replied = self.messages.get(int(reference["message_id"])) if reference else None
        found = mentions.parse(
            self.the_guild,
            channel,
            message.author_id,
            message.content,
            allowed if isinstance(allowed, dict) else None,
            replied,
        )
        message.mention_user_ids = found.user_ids
        message.mention_role_ids = found.role_ids
        message.mention_everyone = found.everyone
        if notify and not message.ephemeral:
            message.notified_user_ids = mentions.notified(
                self.the_guild, channel, message.author_id, found
            )

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


def _embed(raw: dict[str, Any]) -> dict[str, Any]:
    embed = dict(raw)
    embed.setdefault("type", "rich")
    return embed
