"""The chain watch's own notices: every post goes through ChannelNotices (a row first,
keyed, then the post), and #ops-alerts hears once when watching stops and once when it
resumes (the outage's number is in the key, and it is stored: a restart says nothing twice)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.notices import NOTICE, ChannelNotices
from bot.core.outbox import EffectState
from bot.errors import ExternalServiceError
from bot.watch.rules import Problem
from storage import outbox as outbox_queries
from storage import watch as queries

log = logging.getLogger(__name__)
RED, BLUE, AMBER = 0xED4245, 0x5865F2, 0xFEE75C
TITLES = {
    "undecodable": "⛓️ Chain watch: a log that does not decode",
    "range": "⛓️ Chain watch: a block range the RPC refused",
}


class Outages:
    sessions: async_sessionmaker[AsyncSession]
    notices: ChannelNotices
    ops_channel: Callable[[], str | None]
    down: str | None
    undelivered: list[int]

    async def notice(
        self,
        session: AsyncSession,
        key: str,
        channel_id: str,
        title: str,
        description: str,
        colour: int = RED,
        incident_id: int | None = None,
    ) -> None:
        """Queued in ``session``'s transaction; posted after it commits (``deliver``)."""
        entry = await self.notices.add(
            session,
            f"chainwatch:{key}",
            channel_id,
            "",
            title=title,
            description=description,
            colour=colour,
            incident_id=incident_id,
        )
        self.undelivered.append(entry.id)

    async def report(self, problems: Sequence[Problem]) -> None:
        """What the watch refused or could not read: logged each time, and said in
        #ops-alerts once per cause (the notice's key is the cause: stored, so a restart or
        the same cause again says nothing twice)."""
        if not problems:
            return
        for problem in problems:
            log.warning("chain watch: %s", problem.text)
        channel = self.ops_channel()
        if not channel:
            return
        async with self.sessions.begin() as session:
            for problem in {p.cause: p for p in problems}.values():
                await self.notice(
                    session,
                    f"problem:{problem.cause}"[:180],
                    channel,
                    TITLES.get(problem.cause.split(":")[0], "⛓️ Chain watch: an RPC answer refused"),
                    problem.text[:4000],
                    AMBER,
                )

    async def stopped(self, reason: str) -> None:
        self.down = reason
        log.warning("chain watch stopped: %s", reason)
        channel = self.ops_channel()
        async with self.sessions.begin() as session:
            state = await queries.state(session)
            if state is None:  # down before the first look: no cursor yet, said once
                if channel:
                    text = f"{reason}\nNo block read yet: it starts once the RPC answers."
                    await self.notice(session, "stopped:0", channel, "⛓️ Chain watch stopped", text)
                return
            if state.stopped:
                return
            state.stopped, state.stop_reason = True, reason[:1000]
            state.outages += 1
            if channel:
                text = (
                    f"{reason}\nLast block read: {state.cursor}. It resumes from there once "
                    "the RPC answers."
                )
                await self.notice(
                    session, f"stopped:{state.outages}", channel, "⛓️ Chain watch stopped", text
                )

    async def resumed(self) -> None:
        self.down = None
        channel = self.ops_channel()
        async with self.sessions.begin() as session:
            state = await queries.state(session)
            if state is None or not state.stopped:
                return
            state.stopped, state.stop_reason = False, None
            if channel:
                text = f"Reading again from block {state.cursor + 1}: nothing is skipped."
                await self.notice(
                    session,
                    f"resumed:{state.outages}",
                    channel,
                    "⛓️ Chain watch resumed",
                    text,
                    BLUE,
                )

    async def left_by_last_run(self) -> None:
        """The watch's notices queued but not posted when the last run stopped (the row is
        committed before the post): posted now, once (in doubt ones are looked for first)."""
        async with self.sessions() as session:
            for state in (EffectState.PENDING, EffectState.IN_DOUBT):
                for entry in await outbox_queries.in_state(session, state, NOTICE):
                    if entry.key.startswith("chainwatch:") and entry.id not in self.undelivered:
                        self.undelivered.append(entry.id)

    async def deliver(self) -> None:
        waiting, self.undelivered = self.undelivered, []
        for entry_id in waiting:
            try:
                await self.notices.deliver(entry_id)
            except ExternalServiceError as error:
                log.warning("chain watch: notice %s not posted yet: %s", entry_id, error)
                self.undelivered.append(entry_id)
