"""The Discord adapter: the domain's only way to act on Discord.

Everything goes through discord.py (so its rate limiter and retries apply);
reads come from the client's cache wherever the gateway keeps it current.
"""

from __future__ import annotations

import logging
from typing import Any

import discord

from bot.adapters.discord_calls import call
from bot.adapters.discord_permissions import unnotified
from bot.adapters.discord_shapes import ButtonSpec, Embed, view_of
from bot.core.locks import IncidentLocks
from bot.core.permissions import RoleResolution, resolve_roles
from bot.errors import ExternalServiceError, NotFound

MAX_CATEGORY_CHANNELS = 50
__all__ = ["ButtonSpec", "DiscordOut", "Embed"]

log = logging.getLogger(__name__)


class DiscordOut:
    def __init__(
        self,
        client: discord.Client,
        guild_id: int | None,
        roles: dict[str, list[str]] | None = None,  # configured role name → keys naming it
    ) -> None:
        self._client = client
        self._guild_id = guild_id
        self._role_uses = roles or {}
        self._roles: RoleResolution | None = None  # resolved the first time the guild is seen
        self._posting = IncidentLocks()  # one message create in flight per channel (see _post)

    # -- reading -------------------------------------------------------------------------
    @property
    def guild(self) -> discord.Guild:
        guild = (
            self._client.get_guild(self._guild_id)
            if self._guild_id
            else next(iter(self._client.guilds), None)
        )
        if guild is None:
            raise ExternalServiceError("the bot is not connected to its guild yet")
        if self._roles is None:
            self._resolve_roles(guild)
        return guild

    def _resolve_roles(self, guild: discord.Guild) -> None:
        """Configured role names → ids, once: from now on roles are compared by id."""
        self._roles = resolve_roles(self._role_uses, ((r.id, r.name) for r in guild.roles))
        for problem in self._roles.problems:
            log.warning("roles: %s; it grants nothing and pings no one until restart", problem)

    @property
    def bot_user_id(self) -> str:
        assert self._client.user is not None
        return str(self._client.user.id)

    def channel_names(self) -> set[str]:
        return {channel.name for channel in self.guild.channels}

    def text_channel(self, name: str) -> discord.TextChannel | None:
        return discord.utils.get(self.guild.text_channels, name=name)

    def channel_by_topic_marker(self, marker: str) -> discord.TextChannel | None:
        for channel in self.guild.text_channels:
            if channel.topic and marker in channel.topic:
                return channel
        return None

    def member(self, user_id: str) -> discord.Member | None:
        return self.guild.get_member(int(user_id)) if user_id.isdigit() else None

    def member_by_key(self, key: str) -> discord.Member | None:
        """A member by id, username, or display name (case-insensitive)."""
        if key.isdigit():
            return self.member(key)
        lowered = key.lower()
        for member in self.guild.members:
            if member.name.lower() == lowered or member.display_name.lower() == lowered:
                return member
        return None

    def role_names(self, user_id: str) -> frozenset[str]:
        """The configured roles the member holds, by the ids resolved at start (not by name)."""
        member = self.member(user_id)  # resolves the roles first, if not yet done
        if member is None or self._roles is None:
            return frozenset()
        held = {role.id for role in member.roles}
        return frozenset(name for name, role_id in self._roles.ids.items() if role_id in held)

    def role_id(self, name: str) -> str | None:
        """A role's id for a mention: a configured role by its id resolved at start."""
        guild = self.guild
        if name in self._role_uses:
            role_id = self._roles.ids.get(name) if self._roles else None
            return str(role_id) if role_id is not None else None
        role = discord.utils.get(guild.roles, name=name)
        return str(role.id) if role else None

    def role_problems(self) -> list[str]:
        """Configured role names that resolved to no role at start (empty before start)."""
        return list(self._roles.problems) if self._roles else []

    # -- acting --------------------------------------------------------------------------
    async def ensure_category(self, name: str) -> discord.CategoryChannel:
        """The category ``name``, or its first overflow (``name 2`` …) with room left."""
        number = 1
        while True:
            label = name if number == 1 else f"{name} {number}"
            category = discord.utils.get(self.guild.categories, name=label)
            if category is None:
                return await call(self.guild.create_category(label), self.guild, "manage_channels")
            if len(category.channels) < MAX_CATEGORY_CHANNELS:
                return category
            number += 1

    async def create_text_channel(
        self,
        name: str,
        category: discord.CategoryChannel,
        topic: str,
        members_with_access: tuple[str, ...] = (),
    ) -> str:
        overwrites: dict[
            discord.Role | discord.Member | discord.Object, discord.PermissionOverwrite
        ] = {}
        for user_id in members_with_access:
            member = self.member(user_id)
            if member is not None:
                overwrites[member] = discord.PermissionOverwrite(
                    view_channel=True, send_messages=True, read_message_history=True
                )
        needs = ("view_channel", "manage_channels") + (("manage_roles",) if overwrites else ())
        channel = await call(
            self.guild.create_text_channel(
                name, category=category, topic=topic, overwrites=overwrites or discord.utils.MISSING
            ),
            category,
            *needs,
        )
        await self._drop_retried_twins(channel)
        return str(channel.id)

    async def _drop_retried_twins(self, channel: discord.TextChannel) -> None:
        """A 5xx may come after Discord created the channel, and discord.py retries it: the
        earlier twin (same category and topic, which names the incident) is deleted."""
        for other in self.guild.text_channels:
            if (
                other.id != channel.id
                and other.category_id == channel.category_id
                and channel.topic
                and other.topic == channel.topic
            ):
                log.warning("deleting #%s, made twice by a retried request", other.name)
                await call(other.delete(reason="created twice by a retry"))

    async def grant_access(self, channel_id: str, user_id: str) -> None:
        channel = self.guild.get_channel(int(channel_id))
        member = self.member(user_id)
        if channel is None or member is None:
            return
        await call(
            channel.set_permissions(
                member, view_channel=True, send_messages=True, read_message_history=True
            ),
            channel,
            "manage_roles",
            "view_channel",
            "send_messages",
            "read_message_history",
        )

    async def archive_channel(self, channel_id: str, category: discord.CategoryChannel) -> None:
        """Move the channel into ``category`` and make it read-only: nobody sends there any
        more (every overwrite keeps its view, loses send), except the bot itself."""
        channel = self.guild.get_channel(int(channel_id))
        if not isinstance(channel, discord.TextChannel):
            raise NotFound(f"<#{channel_id}> no longer exists.")
        overwrites = dict(channel.overwrites)
        for target, overwrite in list(overwrites.items()):
            overwrite.update(send_messages=False, send_messages_in_threads=False)
            overwrites[target] = overwrite
        everyone = overwrites.get(self.guild.default_role, discord.PermissionOverwrite())
        everyone.update(send_messages=False, send_messages_in_threads=False)
        overwrites[self.guild.default_role] = everyone
        me = self.guild.me
        if me is not None:
            overwrites[me] = discord.PermissionOverwrite(view_channel=True, send_messages=True)
        await call(channel.edit(category=category, overwrites=overwrites, sync_permissions=False))

    def channel_count(self) -> int:
        """The guild's channels, categories included (Discord's limit is 500 of them)."""
        return len(self.guild.channels)

    async def delete_channel(self, channel_id: str, reason: str) -> None:
        channel = self.guild.get_channel(int(channel_id))
        if channel is not None:
            await call(channel.delete(reason=reason), channel, "manage_channels")

    async def send(
        self,
        channel_id: str,
        content: str | None = None,
        embed: Embed | None = None,
        buttons: tuple[ButtonSpec, ...] = (),
        mention_users: tuple[str, ...] = (),
        mention_roles: tuple[str, ...] = (),
    ) -> str:
        channel = self._messageable(channel_id)
        allowed = discord.AllowedMentions(
            everyone=False,
            users=[discord.Object(int(u)) for u in mention_users],
            roles=[discord.Object(int(r)) for r in mention_roles],
        )
        message = await call(
            self._post(
                channel,
                # discord.py sends a nonce with enforce_nonce: Discord answers its retry of
                # a send that took effect before a 5xx with that message (never twice).
                content=content,
                embed=embed.to_discord() if embed else discord.utils.MISSING,
                view=view_of(buttons) or discord.utils.MISSING,
                allowed_mentions=allowed,
            ),
            channel,
            "view_channel",
            "send_messages_in_threads" if isinstance(channel, discord.Thread) else "send_messages",
            *(("embed_links",) if embed else ()),
        )
        note = unnotified(channel, message, mention_users, mention_roles)
        if note:  # a page that notified nobody says so, and why
            none = discord.AllowedMentions.none()
            await call(
                self._post(channel, content=note, allowed_mentions=none), channel, "send_messages"
            )
        return str(message.id)

    async def _post(
        self, channel: discord.TextChannel | discord.Thread, **fields: Any
    ) -> discord.Message:
        """Every message the bot creates goes through here, one at a time per channel.

        discord.py's rate limiter takes the first answer of a new window as the whole
        truth, though others sent with it are still in flight, and lets more through than
        the window holds (Rapptz/discord.py#10287): the storm bench met 429s from it on
        #ops-alerts. One create in flight per channel keeps its count exact; Discord allows
        5 per 5 s there, so the queue costs nothing, and the channel reads in order."""
        async with self._posting.hold(("post", channel.id), across_calls=True):
            return await channel.send(**fields)

    async def edit(
        self,
        channel_id: str,
        message_id: str,
        content: str | None = None,
        embed: Embed | None = None,
        buttons: tuple[ButtonSpec, ...] | None = None,
    ) -> None:
        channel = self._messageable(channel_id)
        message = channel.get_partial_message(int(message_id))
        kwargs: dict = {}
        if content is not None:
            kwargs["content"] = content
        if embed is not None:
            kwargs["embed"] = embed.to_discord()
        if buttons is not None:
            kwargs["view"] = view_of(buttons)
        await call(message.edit(**kwargs), channel, "view_channel")

    async def pin(self, channel_id: str, message_id: str) -> None:
        channel = self._messageable(channel_id)
        await call(
            channel.get_partial_message(int(message_id)).pin(),
            channel,
            "view_channel",
            "pin_messages",
        )

    async def history(self, channel_id: str, limit: int | None = None) -> list[discord.Message]:
        channel = self._messageable(channel_id)

        async def collect() -> list[discord.Message]:
            return [m async for m in channel.history(limit=limit, oldest_first=True)]

        return await call(collect(), channel, "view_channel", "read_message_history")

    async def find_own_message(
        self, channel_id: str, footer: str, limit: int | None = 50, newest_first: bool = False
    ) -> str | None:
        """The bot's message in the channel whose embed footer is ``footer`` (crash recovery:
        a message sent whose id was never stored). The one way to find our message again
        by its marker. ``limit`` messages are read from the oldest (a kickoff is among the
        first) or, with ``newest_first``, from the newest (``None``: the whole channel)."""
        channel = self._messageable(channel_id)
        me = self._client.user

        async def scan() -> str | None:
            async for message in channel.history(limit=limit, oldest_first=not newest_first):
                if message.author == me and any(
                    e.footer and e.footer.text == footer for e in message.embeds
                ):
                    return str(message.id)
            return None

        return await call(scan(), channel, "view_channel", "read_message_history")

    async def own_message_footer(self, channel_id: str, message_id: str) -> str | None:
        """The embed footer of the bot's message ``message_id`` (None: not the bot's, or none)."""
        channel = self._messageable(channel_id)

        async def fetch() -> discord.Message | None:
            try:
                return await channel.fetch_message(int(message_id))
            except discord.NotFound:
                return None

        message = await call(fetch(), channel, "view_channel", "read_message_history")
        if message is None or message.author != self._client.user:
            return None
        return next((e.footer.text for e in message.embeds if e.footer and e.footer.text), None)

    async def remove_reaction(
        self, channel_id: str, message_id: str, emoji: str, user_id: str
    ) -> None:
        """Take ``user_id``'s ``emoji`` off a message (Manage Messages)."""
        channel = self._messageable(channel_id)
        message = channel.get_partial_message(int(message_id))
        await call(
            message.remove_reaction(emoji, discord.Object(int(user_id))),
            channel,
            "view_channel",
            "manage_messages",
        )

    def plain_name(self, user_id: str) -> str:
        """A member's display name as text that pings nobody and formats nothing."""
        member = self.member(user_id)
        name = member.display_name if member else f"user {user_id}"
        return discord.utils.escape_mentions(discord.utils.escape_markdown(name))

    def _messageable(self, channel_id: str) -> discord.TextChannel | discord.Thread:
        channel = self.guild.get_channel_or_thread(int(channel_id))
        if not isinstance(channel, discord.TextChannel | discord.Thread):
            raise NotFound(f"<#{channel_id}> no longer exists.")
        return channel
