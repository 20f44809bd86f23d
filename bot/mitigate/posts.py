"""Every Discord post of the P0 mitigations goes through the outbox: a row (keyed by what
it says, so a restart or a second look says it once), a timer that delivers it, and a
verifier that finds a post the last run sent but did not record (its footer's marker)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.adapters.discord_out import ButtonSpec, Embed
from bot.core.outbox import EffectState, Refused, Retry, marker
from bot.errors import ExternalServiceError, UserError
from bot.mitigate.base import POST, MitigateDeps
from storage import mitigate as queries
from storage import outbox as outbox_queries
from storage.models import OutboxEntry, Timer

OPS = "ops-alerts"  # a post's channel: #ops-alerts instead of the incident channel

RED, GREEN, AMBER, BLUE = 0xED4245, 0x57F287, 0xE67E22, 0x5865F2


class Undelivered(Exception):
    """The post is still pending (Discord was unreachable): the timer tries again."""


class Poster:
    def __init__(self, deps: MitigateDeps) -> None:
        self.d = deps
        deps.outbox.register_verifier(POST, self._find)

    async def queue(
        self,
        session: AsyncSession,
        key: str,
        incident_id: int,
        channel_id: str,
        title: str,
        description: str,
        footer: str,
        content: str | None = None,
        colour: int = BLUE,
        mention_users: tuple[str, ...] = (),
        buttons: tuple[ButtonSpec, ...] = (),
        message_of: int | None = None,
    ) -> bool:
        """Queue one post in ``session``'s transaction; False if ``key`` was queued before
        (said once, whoever asks again)."""
        if await outbox_queries.by_key(session, key) is not None:
            return False
        entry = self.d.outbox.add(
            session,
            POST,
            key,
            {
                "channel_id": channel_id,
                "title": title[:256],
                "description": description[:4096],
                "footer": footer,
                "content": content[:2000] if content else None,
                "colour": colour,
                "mention_users": list(mention_users),
                "buttons": [[b.label, b.custom_id, b.style, b.emoji] for b in buttons],
                "message_of": message_of,
            },
            incident_id,
        )
        await session.flush()
        self.d.timers.schedule(
            session, POST, self.d.clock.now(), incident_id, {"entry_id": entry.id}
        )
        return True

    async def on_timer(self, timer: Timer) -> None:
        entry = await self.d.outbox.deliver(int(timer.payload["entry_id"]), self._send)
        if entry.state == EffectState.PENDING:
            raise Undelivered(entry.last_error or "not delivered yet")
        if entry.state == EffectState.DONE:
            await self._store_message_id(entry)

    async def _store_message_id(self, entry: OutboxEntry) -> None:
        mitigation_id = entry.payload.get("message_of")
        message_id = entry.result.get("message_id")
        if mitigation_id is None or message_id is None or entry.incident_id is None:
            return
        async with self.d.changing(entry.incident_id) as session:
            row = await queries.mitigation(session, int(mitigation_id))
            if row is not None and row.message_id is None:
                row.message_id = str(message_id)

    def _channel(self, entry: OutboxEntry) -> str | None:
        channel = entry.payload["channel_id"]
        return self.d.ops_alerts_id() if channel == OPS else str(channel)

    @staticmethod
    def footer(entry: OutboxEntry) -> str:
        return f"{entry.payload['footer']} · {marker(entry.id)}"

    async def _send(self, entry: OutboxEntry) -> Mapping[str, Any] | None:
        channel = self._channel(entry)
        if channel is None:
            raise Refused(f"there is no #{self.d.config.discord.ops_alerts_channel} channel")
        if entry.attempts > 1:
            found = await self._find(entry)
            if found is not None:
                return found
        p = entry.payload
        try:
            message_id = await self.d.discord.send(
                channel,
                content=p.get("content"),
                embed=Embed(
                    title=p["title"],
                    description=p["description"],
                    colour=int(p["colour"]),
                    footer=self.footer(entry),
                ),
                buttons=tuple(ButtonSpec(*b) for b in p.get("buttons") or ()),
                mention_users=tuple(p.get("mention_users") or ()),
            )
        except UserError as error:
            raise Refused(str(error)) from error
        except ExternalServiceError as error:
            raise Retry(str(error)) from error
        return {"message_id": message_id, "channel_id": channel}

    async def _find(self, entry: OutboxEntry) -> Mapping[str, Any] | None:
        channel = self._channel(entry)
        if channel is None:
            return None
        message_id = await self.d.discord.find_own_message(
            channel, self.footer(entry), limit=100, newest_first=True
        )
        return {"message_id": message_id, "channel_id": channel} if message_id else None
