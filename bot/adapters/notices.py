"""A message the bot must post exactly once: the outbox (bot/core/outbox.py) for Discord.

    async with sessions.begin() as session:          # the state change that wants it…
        entry = notices.add(session, key, channel_id, content, title="…")
    await notices.deliver(entry_id)                   # …committed first, then the post

The message carries the entry's marker in its embed footer. After a crash mid-post,
or an error from Discord after it may have acted, the message is looked for by that
marker before anything is posted again: never twice, and never silently lost. A
``key`` names the notice (``response-breach:12``), so a handler that runs again finds
its notice instead of adding a second one.

``deliver`` raises ``ExternalServiceError`` while the notice is not posted, so the
timer or command that wanted it fails loudly and tries again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.discord_out import DiscordOut, Embed
from bot.core.outbox import EffectState, Outbox, Refused, Retry, marker
from bot.errors import ExternalServiceError, UserError
from storage import outbox as queries
from storage.models import OutboxEntry

NOTICE = "notice"  # outbox kind


def notice_footer(entry_id: int, label: str) -> str:
    return f"{label} · {marker(entry_id)}" if label else marker(entry_id)


class ChannelNotices:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], outbox: Outbox, discord: DiscordOut
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._discord = discord
        outbox.register_verifier(NOTICE, self._find)

    async def add(
        self,
        session: AsyncSession,
        key: str,
        channel_id: str,
        content: str,
        *,
        title: str,
        description: str = "",
        colour: int = 0x5865F2,
        label: str = "",
        mention_users: tuple[str, ...] = (),
        mention_roles: tuple[str, ...] = (),
        incident_id: int | None = None,
    ) -> OutboxEntry:
        """The notice ``key`` in ``session``'s transaction: the one already there, or a new one."""
        existing = await queries.by_key(session, key)
        if existing is not None:
            return existing
        entry = self._outbox.add(
            session,
            NOTICE,
            key,
            {
                "channel_id": channel_id,
                "content": content[:2000],
                "title": title,
                "description": description,
                "colour": colour,
                "label": label,
                "mention_users": list(mention_users),
                "mention_roles": list(mention_roles),
            },
            incident_id,
        )
        await session.flush()
        return entry

    async def deliver(self, entry_id: int) -> OutboxEntry:
        """Post the notice unless it is posted (or being posted); raise while it is not."""
        async with self._sessions() as session:
            entry = await queries.get(session, entry_id)
        if entry is None:
            raise LookupError(f"no outbox entry {entry_id}")
        if entry.state in (EffectState.DONE, EffectState.SENDING):
            return entry
        if entry.state != EffectState.PENDING:  # in doubt or failed: look first, then post
            entry = await self._outbox.release(entry_id)
        settled = await self._outbox.deliver(entry_id, self._post)
        if settled.state not in (EffectState.DONE, EffectState.SENDING):
            raise ExternalServiceError(f"a notice was not posted: {settled.last_error}")
        return settled

    async def _post(self, entry: OutboxEntry) -> Mapping[str, Any] | None:
        payload = entry.payload
        if entry.attempts > 1:
            found = await self._find(entry)  # an earlier try may have reached Discord
            if found is not None:
                return found
        embed = Embed(
            title=payload["title"],
            description=payload.get("description") or "",
            colour=payload.get("colour") or 0x5865F2,
            footer=notice_footer(entry.id, payload.get("label") or ""),
        )
        try:
            message_id = await self._discord.send(
                payload["channel_id"],
                content=payload["content"],
                embed=embed,
                mention_users=tuple(payload.get("mention_users") or ()),
                mention_roles=tuple(payload.get("mention_roles") or ()),
            )
        except UserError as error:
            raise Refused(str(error)) from error
        except ExternalServiceError as error:
            # Discord may have posted before failing: look before trying again.
            found = await self._find(entry)
            if found is not None:
                return found
            raise Retry(str(error)) from error
        return {"message_id": message_id, "channel_id": payload["channel_id"]}

    async def _find(self, entry: OutboxEntry) -> Mapping[str, Any] | None:
        channel_id = entry.payload["channel_id"]
        message_id = await self._discord.find_own_message(
            channel_id,
            notice_footer(entry.id, entry.payload.get("label") or ""),
            newest_first=True,
        )
        return {"message_id": message_id, "channel_id": channel_id} if message_id else None
