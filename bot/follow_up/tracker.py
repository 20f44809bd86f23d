"""``docs/plan-tracker.md`` in the ops repository: every action item as a table rendered
from ``templates/plan_tracker.md.j2``, committed and pushed when it changes (the same real
git publishing as the postmortem, bot/adapters/git.py, in a checkout of its own)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.git import publish_file
from bot.core.render import Renderer
from bot.core.text import from_outside, safe_url
from bot.errors import ExternalServiceError
from bot.follow_up.due import overdue
from storage import follow_up as queries
from storage.follow_up import ActionItem
from storage.models import Incident

log = logging.getLogger(__name__)

TEMPLATE = "plan_tracker.md.j2"
PATH = "docs/plan-tracker.md"


def cell(text: str, limit: int = 300) -> str:
    """Outside text as one inert table cell (no newline, no pipe, no ping)."""
    return from_outside(" ".join(text.split()), limit) or "(no text)"


def status_of(item: ActionItem, today: date) -> str:
    if item.done_at is not None:
        return "done"
    return "overdue" if overdue(item.due_on, today) else "open"


@dataclass(frozen=True)
class TrackerResult:
    commit: str | None  # None: nothing is configured, or the push failed (``error``)
    changed: bool
    error: str | None = None

    def note(self) -> str:
        """What an answer adds about the tracker."""
        if self.error is not None:
            return (
                f" ⚠️ `{PATH}` was not updated: {self.error}. The item is saved; the "
                "bot pushes the whole tracker again by itself once the remote answers."
            )
        if self.commit is None:
            return ""
        if not self.changed:
            return f" `{PATH}` already up to date."
        return f" `{PATH}` updated (commit `{self.commit[:12]}`)."


class PlanTracker:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        renderer: Renderer,
        today: Callable[[], date],
        label: Callable[[Incident], str],
        link: Callable[[Incident], str | None],
        url: str | None,
        checkout: Path,
        branch: str,
        author: tuple[str, str],
        token: str | None,
    ) -> None:
        self._sessions, self._renderer, self._today = sessions, renderer, today
        self._label, self._link = label, link
        self._url, self._checkout, self._branch = url, checkout, branch
        self._author, self._token = author, token
        self._git = asyncio.Lock()  # one checkout: one push at a time
        # Told of a failed and of a successful push (bot/follow_up/tracker_retry.py).
        self.unreachable: Callable[[str], Awaitable[None]] | None = None
        self.reachable: Callable[[], Awaitable[None]] | None = None

    async def render(self) -> str:
        async with self._sessions() as session:
            rows = await queries.every_item(session)
        today = self._today()
        table = [
            {
                "incident": cell(self._label(incident), 120),
                "action": cell(item.action),
                "owner": cell(item.owner_name, 100),
                "due": item.due_on.isoformat(),
                "status": status_of(item, today),
                "link": f"<{url}>" if (url := safe_url(self._link(incident))) else "",
            }
            for item, incident in rows
        ]
        return self._renderer.render(TEMPLATE, rows=table) + "\n"

    async def publish(self, why: str, retrying: bool = False) -> TrackerResult:
        """Render the tracker from the database as it is now and push it if it changed.
        Rendering inside the lock: the last push always holds the latest state. A failed
        push is retried by itself (``unreachable``), unless this is the retry."""
        if self._url is None:
            return TrackerResult(None, False)
        failed: TrackerResult | None = None
        async with self._git:
            text = await self.render()
            try:
                done = await publish_file(
                    self._url,
                    self._checkout,
                    self._branch,
                    PATH,
                    text,
                    f"Plan tracker: {' '.join(why.split())[:120]}",
                    self._author,
                    self._token,
                )
            except ExternalServiceError as error:
                log.warning("the plan tracker was not pushed: %s", error)
                failed = TrackerResult(None, False, str(error).splitlines()[0][:300])
        if failed is not None:
            if self.unreachable is not None and not retrying:
                await self.unreachable(failed.error or "the push failed")
            return failed
        if self.reachable is not None:
            await self.reachable()
        return TrackerResult(done.commit, done.changed)
