"""``/followup add|done|list``: an incident's action items, each with an owner (a member)
and a due date; every change re-renders ``docs/plan-tracker.md`` (bot/follow_up/tracker.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.discord_out import DiscordOut
from bot.core.clock import Clock
from bot.core.locks import IncidentLocks
from bot.core.text import from_outside
from bot.errors import Conflict, NotFound, UserError
from bot.follow_up.due import overdue, parse_due
from bot.follow_up.tracker import PlanTracker, TrackerResult, cell
from bot.triage.lifecycle import record
from storage import follow_up as queries
from storage.follow_up import ActionItem
from storage.models import Incident

MAX_ACTION = 300


@dataclass(frozen=True)
class Changed:
    item: ActionItem
    tracker: TrackerResult


def item_line(item: ActionItem, today: date, label: str | None = None) -> str:
    """One item in a Discord answer (no ping: the answer is sent without mentions)."""
    if item.done_at is not None:
        state = "✅ done"
    elif overdue(item.due_on, today):
        days = (today - item.due_on).days
        state = f"⚠️ overdue by {days} day{'s' if days != 1 else ''}"
    else:
        state = "open"
    where = f" ({label})" if label else ""
    return (
        f"`#{item.id}` {cell(item.action)}, <@{item.owner_id}>, due {item.due_on.isoformat()}, "
        f"{state}{where}"
    )


def ordered(items: list[ActionItem], today: date) -> list[ActionItem]:
    """Overdue first, then open by due date, then done."""
    return sorted(
        items,
        key=lambda i: (
            i.done_at is not None,
            not overdue(i.due_on, today),
            i.due_on,
            i.id,
        ),
    )


def draft_line(item: ActionItem) -> str:
    """The postmortem's Action Items line: ``<action>, owner, due date`` (the template puts
    the checkbox in front), ``(done)`` after one that is done."""
    line = f"{cell(item.action)}, {cell(item.owner_name, 100)}, {item.due_on.isoformat()}"
    return line + (" (done)" if item.done_at is not None else "")


async def draft_lines(session: AsyncSession, incident_id: int) -> list[str]:
    """The incident's action items as the postmortem draft lists them (empty: none yet)."""
    return [draft_line(item) for item in await queries.items_of(session, incident_id)]


class ActionItems:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        out: DiscordOut,
        clock: Clock,
        locks: IncidentLocks,
        today: Callable[[], date],
        label: Callable[[Incident], str],
        tracker: PlanTracker,
    ) -> None:
        self._sessions, self._out, self._clock, self._locks = sessions, out, clock, locks
        self._today, self._label, self.tracker = today, label, tracker
        # Called in the transaction that adds an item (the reminders schedule their timers;
        # a done item's reminders find it done and exit, bot/follow_up/reminders.py).
        self.on_added: list[Callable[[AsyncSession, ActionItem], None]] = []

    async def add(
        self, incident: Incident, actor_id: str, owner_id: str, action: str, due: str
    ) -> Changed:
        text = " ".join(action.split())
        if not text:
            raise UserError("Say what the action is: `action:` is empty.")
        if len(text) > MAX_ACTION:
            raise UserError(f"Keep the action under {MAX_ACTION} characters ({len(text)} now).")
        due_on = parse_due(due, self._today())
        member = self._out.member(owner_id)
        if member is None:
            raise UserError(
                f"<@{owner_id}> is not a member of this server (they may have left): the owner "
                "must be someone who can be reminded."
            )
        if member.bot:
            raise UserError("A bot cannot own an action item: name the person who will do it.")
        now = self._clock.now()
        async with self._locks.hold(incident.id), self._sessions.begin() as session:
            held = await session.get(Incident, incident.id)
            assert held is not None
            item = await queries.add_item(
                session,
                ActionItem(
                    incident_id=incident.id,
                    action=text,
                    owner_id=owner_id,
                    owner_name=member.display_name[:100],
                    due_on=due_on,
                    created_by=actor_id,
                    created_at=now,
                ),
            )
            record(
                session,
                held,
                "action_item_added",
                f"Action item #{item.id}: {from_outside(text, 200)} (owner <@{owner_id}>, due {due_on})",
                actor_id,
                {"item": item.id, "owner": owner_id, "due": due_on.isoformat()},
                at=now,
            )
            for hook in self.on_added:
                hook(session, item)
        return Changed(item, await self.tracker.publish(f"add #{item.id}"))

    async def done(self, item_id: int, actor_id: str) -> Changed:
        now = self._clock.now()
        async with self._sessions() as session:
            found = await queries.item(session, item_id)
        if found is None:
            raise NotFound(f"There is no action item `#{item_id}`: `/followup list` shows them.")
        async with self._locks.hold(found.incident_id), self._sessions.begin() as session:
            item = await queries.item(session, item_id)
            assert item is not None
            if item.done_at is not None:
                raise Conflict(
                    f"Action item `#{item_id}` is already done (by <@{item.done_by}>, "
                    f"<t:{int(item.done_at.timestamp())}:R>)."
                )
            item.done_at, item.done_by = now, actor_id
            held = await session.get(Incident, item.incident_id)
            assert held is not None
            record(
                session,
                held,
                "action_item_done",
                f"Action item #{item.id} done: {from_outside(item.action, 200)}",
                actor_id,
                {"item": item.id},
                at=now,
            )
        return Changed(item, await self.tracker.publish(f"#{item.id} done"))

    async def listing(self, incident: Incident | None) -> str:
        """``/followup list``: this incident's items, or (``incident`` None) every open
        incident's items; overdue first."""
        today = self._today()
        async with self._sessions() as session:
            if incident is not None:
                items = await queries.items_of(session, incident.id)
                labels: dict[int, str] = {}
            else:
                pairs = await queries.open_items(session)
                items = [item for item, _ in pairs]
                labels = {item.id: self._label(inc) for item, inc in pairs}
        if not items:
            where = "this incident" if incident is not None else "any incident"
            return f"No {'open ' if incident is None else ''}action items for {where}: `/followup add` adds one."
        lines = [item_line(i, today, labels.get(i.id)) for i in ordered(items, today)]
        late = sum(1 for i in items if i.done_at is None and overdue(i.due_on, today))
        head = f"**Action items** ({len(items)}" + (f", {late} overdue)" if late else ")")
        return "\n".join([head, *lines])[:1990]
