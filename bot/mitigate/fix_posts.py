"""A message the fix's work posts in an incident channel, once: an outbox row first (keyed by
what it reports), then the post, found again by its embed footer after a crash."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.adapters.discord_out import Embed
from bot.communicate.base import Deps
from bot.core.outbox import EffectState, Refused, Retry
from bot.errors import ExternalServiceError, UserError
from storage import outbox as outbox_queries
from storage.models import OutboxEntry

FIX_POST = "fix_post"  # outbox kind


@dataclass(frozen=True)
class Post:
    key: str  # what it reports: one post per key
    incident_id: int
    channel_id: str
    content: str
    title: str  # the embed's
    detail: str
    mention: str | None = None  # a user pinged by it (the commander asked a question)


class FixPosts:
    def __init__(self, deps: Deps) -> None:
        self.d = deps
        deps.outbox.register_verifier(FIX_POST, self._find)

    def add(self, session: Any, post: Post) -> OutboxEntry:
        """The post as a pending outbox row in ``session``'s transaction (deliver after commit)."""
        return self.d.outbox.add(
            session,
            FIX_POST,
            f"fix-post:{post.key}",
            {
                "channel_id": post.channel_id,
                "content": post.content[:2000],
                "title": post.title[:256],
                "detail": post.detail[:4000],
                "footer": f"incident #{post.incident_id} · {post.key}",
                "mention": post.mention,
            },
            post.incident_id,
        )

    async def post(self, post: Post) -> None:
        """Add the row (unless one exists: then it was said already) and deliver it now."""
        async with self.d.sessions.begin() as session:
            if await outbox_queries.by_key(session, f"fix-post:{post.key}") is not None:
                return
            entry = self.add(session, post)
            await session.flush()
            entry_id = entry.id
        await self.deliver(entry_id)

    async def deliver(self, entry_id: int) -> EffectState:
        """Deliver a pending post; a Discord outage leaves it pending (its caller retries)."""
        entry = await self.d.outbox.deliver(entry_id, self._send)
        return EffectState(entry.state)

    async def redeliver(self, incident_id: int) -> None:
        """The incident's posts still pending (Discord was unavailable): try them again."""
        async with self.d.sessions() as session:
            pending = await outbox_queries.in_state(session, EffectState.PENDING, FIX_POST)
        for entry in pending:
            if entry.incident_id == incident_id:
                await self.deliver(entry.id)

    async def _send(self, entry: OutboxEntry) -> Mapping[str, Any]:
        payload = entry.payload
        if entry.attempts > 1 and (found := await self._find(entry)) is not None:
            return found
        mention = payload.get("mention")
        try:
            message_id = await self.d.discord.send(
                payload["channel_id"],
                content=payload["content"],
                embed=Embed(
                    title=payload["title"], description=payload["detail"], footer=payload["footer"]
                ),
                mention_users=(mention,) if mention else (),
            )
        except UserError as error:
            raise Refused(str(error)) from error
        except ExternalServiceError as error:
            raise Retry(str(error)) from error
        return {"message_id": message_id}

    async def _find(self, entry: OutboxEntry) -> Mapping[str, Any] | None:
        payload = entry.payload
        found = await self.d.discord.find_own_message(
            payload["channel_id"], payload["footer"], newest_first=True
        )
        return {"message_id": found} if found else None
