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

``add(..., by_timer=True)`` instead leaves the post to a durable timer scheduled in the
same transaction: it retries with the timers' backoff until Discord takes it. The
timer-driven notices of one incident go out in the order they were added (a timer
posts the incident's earlier ones first), so "Mitigation applied" never overtakes the
"2 of 2 on-chain" that was queued before it.

A channel written ``#name`` is resolved when the notice is posted (``#ops-alerts``).
:func:`post_once` is the find-then-send every notice uses; the escalation page, whose
payload is its own, uses it too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.discord_out import ButtonSpec, DiscordOut, Embed
from bot.core.clock import Clock
from bot.core.locks import IncidentLocks
from bot.core.outbox import EffectState, Outbox, Refused, Retry, marker
from bot.core.timers import TimerService
from bot.errors import ExternalServiceError, UserError
from storage import outbox as queries
from storage.models import OutboxEntry, Timer

NOTICE = "notice"  # outbox kind, and the timer kind of the timer-driven ones
BLUE = 0x5865F2

Result = Mapping[str, Any]
Posted = Callable[[OutboxEntry], Awaitable[None]]


class Undelivered(ExternalServiceError):
    """A timer-driven notice is still pending (Discord unreachable): the timer tries again."""


def notice_footer(entry_id: int, label: str) -> str:
    return f"{label} · {marker(entry_id)}" if label else marker(entry_id)


async def find_posted(discord: DiscordOut, channel_id: str, footer: str) -> Result | None:
    """The bot's message whose footer is ``footer`` among the channel's newest, if any."""
    found = await discord.find_own_message(channel_id, footer, limit=100, newest_first=True)
    return {"message_id": found, "channel_id": channel_id} if found else None


async def post_once(
    discord: DiscordOut,
    entry: OutboxEntry,
    channel_id: str,
    footer: str,
    send: Callable[[], Awaitable[str | Result]],
) -> Result:
    """The effect of an outbox entry that posts one message whose footer is ``footer``.

    A second attempt first looks for the message an earlier one may have posted;
    ``send`` posts it (its message id, or a result of its own when it decided not to);
    Discord's refusal fails the entry for good; an error after which Discord may have
    posted is looked into before the entry is left pending for another try."""

    if entry.attempts > 1 and (found := await find_posted(discord, channel_id, footer)):
        return found
    try:
        sent = await send()
    except UserError as error:
        raise Refused(str(error)) from error
    except ExternalServiceError as error:
        if (found := await find_posted(discord, channel_id, footer)) is not None:
            return found
        raise Retry(str(error)) from error
    return sent if isinstance(sent, Mapping) else {"message_id": sent, "channel_id": channel_id}


class ChannelNotices:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        discord: DiscordOut,
        timers: TimerService | None = None,
        locks: IncidentLocks | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._discord = discord
        self._timers = timers
        self._locks = locks or IncidentLocks()
        self._clock = clock or Clock()
        self._posted: list[Posted] = []
        outbox.register_verifier(NOTICE, self._find)
        if timers is not None:
            timers.register(NOTICE, self.on_timer)

    def on_posted(self, listener: Posted) -> None:
        """``listener`` is told of each timer-driven notice once it is posted (its result)."""
        self._posted.append(listener)

    async def add(
        self,
        session: AsyncSession,
        key: str,
        channel_id: str,
        content: str | None,
        *,
        title: str,
        description: str = "",
        colour: int = BLUE,
        label: str = "",
        mention_users: tuple[str, ...] = (),
        mention_roles: tuple[str, ...] = (),
        buttons: tuple[ButtonSpec, ...] = (),
        incident_id: int | None = None,
        data: Mapping[str, Any] | None = None,
        by_timer: bool = False,
    ) -> OutboxEntry:
        """The notice ``key`` in ``session``'s transaction: the one already there, or a new one.

        ``data`` rides along for the ``on_posted`` listeners; ``by_timer`` schedules its
        delivery (in this transaction) instead of leaving it to the caller."""
        existing = await queries.by_key(session, key)
        if existing is not None:
            return existing
        entry = self._outbox.add(
            session,
            NOTICE,
            key,
            {
                "channel_id": channel_id,
                "content": content[:2000] if content else None,
                "title": title[:256],
                "description": description[:4096],
                "colour": colour,
                "label": label,
                "mention_users": list(mention_users),
                "mention_roles": list(mention_roles),
                "buttons": [[b.label, b.custom_id, b.style, b.emoji] for b in buttons],
                "data": dict(data or {}),
                "by_timer": by_timer,
            },
            incident_id,
        )
        await session.flush()
        if by_timer:
            if self._timers is None:
                raise RuntimeError("timer-driven notices need the notices built with the timers")
            self._timers.schedule(
                session, NOTICE, self._clock.now(), incident_id, {"entry_id": entry.id}
            )
        return entry

    async def post(
        self, key: str, channel_id: str, content: str | None, **notice: Any
    ) -> OutboxEntry | None:
        """Add the notice in a transaction of its own, then post it (``deliver``); None,
        and nothing posted, if ``key`` was added before (it was said already)."""
        async with self._sessions.begin() as session:
            if await queries.by_key(session, key) is not None:
                return None
            entry_id = (await self.add(session, key, channel_id, content, **notice)).id
        return await self.deliver(entry_id)

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

    async def deliver_pending(self, incident_id: int) -> None:
        """The incident's notices still pending (Discord was unavailable), but for the
        timer-driven ones (their timers retry them): post them, in order; raise at the
        first that still does not go out."""
        async with self._sessions() as session:
            pending = await queries.of_incident(session, incident_id, NOTICE)
        for entry in pending:
            if entry.state == EffectState.PENDING and not entry.payload.get("by_timer"):
                await self.deliver(entry.id)

    async def on_timer(self, timer: Timer) -> None:
        """Post a timer-driven notice, after the incident's earlier ones still pending."""
        entry_id = int(timer.payload["entry_id"])
        if timer.incident_id is None:
            await self._deliver_by_timer(entry_id)
            return
        # One poster at a time per incident, so the order holds; no command waits on it.
        async with self._locks.hold((NOTICE, timer.incident_id), across_calls=True):
            async with self._sessions() as session:
                entries = await queries.of_incident(session, timer.incident_id, NOTICE)
            for entry in entries:
                if entry.id < entry_id and entry.state == EffectState.PENDING:
                    if entry.payload.get("by_timer"):
                        await self._deliver_by_timer(entry.id)
            await self._deliver_by_timer(entry_id)

    async def _deliver_by_timer(self, entry_id: int) -> None:
        entry = await self._outbox.deliver(entry_id, self._post)
        if entry.state == EffectState.PENDING:
            raise Undelivered(entry.last_error or "not delivered yet")
        if entry.state == EffectState.DONE:
            for listener in self._posted:
                await listener(entry)

    def _channel(self, entry: OutboxEntry) -> str | None:
        channel = str(entry.payload["channel_id"])
        if not channel.startswith("#"):
            return channel
        found = self._discord.text_channel(channel[1:])
        return str(found.id) if found else None

    @staticmethod
    def _footer(entry: OutboxEntry) -> str:
        return notice_footer(entry.id, entry.payload.get("label") or "")

    async def _post(self, entry: OutboxEntry) -> Result:
        channel = self._channel(entry)
        if channel is None:
            raise Refused(f"there is no {entry.payload['channel_id']} channel")
        payload = entry.payload
        embed = Embed(
            title=payload["title"],
            description=payload.get("description") or "",
            colour=payload.get("colour") or BLUE,
            footer=self._footer(entry),
        )

        def send() -> Awaitable[str]:
            return self._discord.send(
                channel,
                content=payload.get("content"),
                embed=embed,
                buttons=tuple(ButtonSpec(*b) for b in payload.get("buttons") or ()),
                mention_users=tuple(payload.get("mention_users") or ()),
                mention_roles=tuple(payload.get("mention_roles") or ()),
            )

        return await post_once(self._discord, entry, channel, self._footer(entry), send)

    async def _find(self, entry: OutboxEntry) -> Result | None:
        channel = self._channel(entry)
        if channel is None:
            return None
        return await find_posted(self._discord, channel, self._footer(entry))
