"""The wire payloads of the guild, its members and messages, and the bot's application."""

from __future__ import annotations

from typing import Any

from . import permissions as perms
from .model import (
    Channel,
    Message,
    User,
    iso,
)
from .store import GuildStore


class Payloads(GuildStore):
    # ------------------------------------------------------------------ payloads
    def permissions(self, user_id: int, channel: Channel | None = None) -> int:
        """The member's permissions in the guild, or in ``channel`` (its overwrites applied)."""
        if channel is None:
            return perms.base_permissions(self.the_guild, user_id)
        return perms.channel_permissions(self.the_guild, user_id, channel)

    def require_permissions(self, user_id: int, needed: int, channel: Channel | None = None) -> int:
        """403 50013 unless the member holds ``needed`` (in ``channel``); what it holds."""
        held = self.permissions(user_id, channel)
        perms.require(held, needed)
        return held

    def member_payload(self, user_id: int, *, with_user: bool = True) -> dict[str, Any]:
        member = self.member(user_id)
        return member.payload(with_user=with_user, permissions=self.permissions(user_id))

    def message_payload(self, message: Message, *, referenced: bool = True) -> dict[str, Any]:
        author = self.users.get(message.author_id) or User(id=message.author_id, username="unknown")
        mentions = []
        for user_id in message.mention_user_ids:
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
            "mention_roles": [str(r) for r in message.mention_role_ids],
            "mention_everyone": message.mention_everyone,
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

    def application_flags(self) -> int:
        """APPLICATION_COMMAND_BADGE and the granted privileged intents' ``*_LIMITED`` flags
        (an unverified application in fewer than 100 guilds)."""
        flags = 1 << 23
        for intent, flag in ((1 << 8, 1 << 13), (1 << 1, 1 << 15), (1 << 15, 1 << 19)):
            if self.privileged_intents & intent:
                flags |= flag
        return flags

    def application_payload(self) -> dict[str, Any]:
        assert self.bot_user is not None and self.owner is not None
        return {
            "id": str(self.application_id),
            "name": self.application_name,
            "description": "Runs Atrium's incident-response procedure.",
            "icon": None,
            "bot_public": False,
            "bot_require_code_grant": False,
            "owner": self.owner.payload(),
            "team": None,
            "verify_key": "0" * 64,
            "flags": self.application_flags(),
            "flags_new": str(self.application_flags()),
            "type": None,
            "approximate_user_install_count": 0,
            "approximate_user_authorization_count": 0,
            "explicit_content_filter": 0,
            "eligible_oauth2_scopes": ["bot", "applications.commands"],
            "bot": self.bot_user.payload(),
            "tags": [],
            "summary": "",
            "rpc_origins": [],
            "role_connections_verification_url": None,
            "interactions_endpoint_url": None,
            "approximate_guild_count": 1,
            "redirect_uris": [],
        }
