"""The plan tracker while the ops repository's remote is unreachable: pushed when it is back.

A push that fails for want of the remote (bot/follow_up/tracker.py) schedules a durable
timer (``follow_up_tracker_push``) that pushes the whole tracker again, with backoff up to
five minutes, for as long as the remote stays away; a restart keeps it. #ops-alerts is told
once that the remote is unreachable and once, after the push went through, that it is back
(ChannelNotices keyed by when the outage began), and /healthz names ``ops_repo`` meanwhile
(bot/core/outages.py).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.notices import ChannelNotices
from bot.core.backoff import Backoff
from bot.core.clock import Clock
from bot.core.outages import Outages
from bot.core.timers import TimerService
from bot.errors import ExternalServiceError
from bot.follow_up.tracker import PATH, PlanTracker
from storage.communicate import has_pending_timer
from storage.models import Timer

log = logging.getLogger(__name__)

TRACKER_PUSH = "follow_up_tracker_push"
OPS_REPO = "ops_repo"  # its name on /healthz
RETRY = Backoff(initial=timedelta(seconds=5), cap=timedelta(minutes=5))


class TrackerRetry:
    def __init__(
        self,
        tracker: PlanTracker,
        sessions: async_sessionmaker[AsyncSession],
        timers: TimerService,
        notices: ChannelNotices,
        clock: Clock,
        ops_channel: str,  # ``#ops-alerts``: resolved when the notice is posted
        outages: Outages,
    ) -> None:
        self.tracker, self.sessions, self.timers = tracker, sessions, timers
        self.notices, self.clock, self.ops_channel, self.outages = (
            notices,
            clock,
            ops_channel,
            outages,
        )
        timers.register(TRACKER_PUSH, self.on_timer)
        tracker.unreachable = self.unreachable
        tracker.reachable = self.reachable

    async def unreachable(self, error: str, payload: dict[str, Any] | None = None) -> None:
        """A push failed: a retry scheduled (one at a time), #ops-alerts told once."""
        self.outages.down(OPS_REPO, error)
        since = str((payload or {}).get("since") or self.clock.now().isoformat())
        tries = int((payload or {}).get("tries", 0)) + 1
        async with self.sessions.begin() as session:
            if payload is None and await has_pending_timer(session, None, [TRACKER_PUSH]):
                return  # a retry is already due: it tells and pushes
            self.timers.schedule(
                session,
                TRACKER_PUSH,
                self.clock.now() + RETRY.delay(tries),
                None,
                {"since": since, "tries": tries},
            )
        await self._tell(
            f"ops-repo-down:{since}",
            f"⚠️ The ops repository's remote is unreachable ({error[:200]}): `{PATH}` "
            "could not be pushed. The bot pushes it again by itself when the remote is back; "
            "/healthz names `ops_repo` meanwhile.",
            "The ops repository is unreachable",
        )

    async def reachable(self) -> None:
        self.outages.up(OPS_REPO)

    async def on_timer(self, timer: Timer) -> None:
        result = await self.tracker.publish("pushed again after the remote was unreachable", True)
        if result.error is not None:
            await self.unreachable(result.error, timer.payload)
            return
        since = timer.payload.get("since")
        commit = f" (commit `{result.commit[:12]}`)" if result.changed and result.commit else ""
        await self._tell(
            f"ops-repo-back:{since}",
            f"✅ The ops repository's remote answers again: `{PATH}` is pushed{commit}.",
            "The ops repository is back",
        )

    async def _tell(self, key: str, content: str, title: str) -> None:
        try:
            await self.notices.post(key, self.ops_channel, content, title=title, label="Ops repo")
        except ExternalServiceError as failure:  # Discord too: /healthz still names it
            log.error("could not say in %s: %s (%s)", self.ops_channel, title, failure)
