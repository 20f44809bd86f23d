"""``/incident close``: the close-out checklist checked (bot/follow_up/rules.py ``missing``),
the commander asked about runbooks (two buttons) and, after slow detection, about alert
rules; a close refused listing what is missing unless an incident-admin overrides with a
reason, which is recorded in the close-out row and on the timeline."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.discord_out import ButtonSpec, DiscordOut
from bot.config_sections import Permissions
from bot.core.clock import Clock
from bot.core.locks import IncidentLocks
from bot.core.permissions import Actor, allowed, describe, require
from bot.core.text import from_outside
from bot.errors import Conflict, NotAllowed, UserError
from bot.follow_up.config import FollowUpConfig
from bot.follow_up.rules import CloseOutFacts, missing, slow_detection, time_to_detect
from bot.postmortem.rules import requires_postmortem
from bot.procedure import Procedure
from bot.triage.lifecycle import Status, record, transition
from storage import follow_up as queries
from storage import postmortem as pm_queries
from storage.models import Incident

# What the close-out buttons answer (custom_id ``followup:check:<incident>:<answer>``).
ANSWERS = {
    "alerts": "Alert rules updated",
    "runbooks-updated": "Runbooks updated",
    "runbooks-clear": "Response was clear",
}


@dataclass(frozen=True)
class Closed:
    incident: Incident
    overridden: tuple[str, ...]  # the items missing when an admin closed anyway
    archive_note: str  # what archiving did (bot/follow_up/archive.py), or ""


class CloseOut:
    def __init__(
        self,
        config: FollowUpConfig,
        procedure: Procedure,
        sessions: async_sessionmaker[AsyncSession],
        out: DiscordOut,
        clock: Clock,
        locks: IncidentLocks,
        permissions: Permissions,
    ) -> None:
        self._config, self._procedure, self._sessions = config, procedure, sessions
        self._out, self._clock, self._locks = out, clock, locks
        self._permissions = permissions
        # Run after a close is committed (archiving); returns a note for the answer.
        self.after_close: list[Callable[[Incident], Awaitable[str]]] = []

    async def facts(self, session: AsyncSession, incident: Incident) -> CloseOutFacts:
        level = self._procedure.severity(incident.severity)
        record_row = await pm_queries.find_record(session, incident.id)
        row = await queries.find_closeout(session, incident.id)
        starts = [at for _, at in await pm_queries.alert_starts(session, incident.id)]
        return CloseOutFacts(
            needs_postmortem=requires_postmortem(level),
            published=bool(record_row and record_row.published_commit),
            items=len(await queries.items_of(session, incident.id)),
            to_detect=time_to_detect(incident.declared_at, starts, incident.down_since),
            slow_after=self._config.slow_detection,
            alert_rules_updated=bool(row and row.alert_rules_updated_by),
            runbooks=row.runbooks if row else None,
        )

    async def close(self, incident: Incident, actor: Actor, reason: str | None) -> Closed:
        if incident.status == Status.CLOSED:
            raise Conflict("This incident is already closed.")
        if incident.status != Status.RESOLVED:
            raise Conflict(
                f"Resolve the incident first (`/incident resolve`): it is {incident.status}."
            )
        reason = " ".join((reason or "").split()) or None
        async with self._sessions() as session:
            facts = await self.facts(session, incident)
        gaps = missing(facts)
        if gaps and reason is not None and not allowed(list(self._config.override), actor, None):
            raise NotAllowed(
                f"Only {describe(list(self._config.override))} may close with items missing. "
                "Missing:\n" + "\n".join(f"- {gap}" for gap in gaps)
            )
        # Closing ends the incident for good (the channel goes read-only, then away): the
        # same people as resolving it, not anyone in the channel.
        require(self._permissions, "change_status", actor, incident.commander_id, doing="close it")
        if gaps and reason is None:
            await self._ask(incident, facts)
            raise UserError(
                "Not closed: the close-out checklist is not done.\n"
                + "\n".join(f"- {gap}" for gap in gaps)
                + f"\n{_capital(describe(list(self._config.override)))} may close anyway "
                "with `reason:`."
            )
        now = self._clock.now()
        async with self._locks.hold(incident.id), self._sessions.begin() as session:
            held = await session.get(Incident, incident.id)
            assert held is not None
            if held.status == Status.CLOSED:
                raise Conflict("This incident is already closed.")
            row = await queries.closeout_of(session, incident.id)
            row.closed_at, row.closed_by = now, actor.user_id
            data: dict[str, object] = {}
            text = "Incident closed: the close-out checklist is done"
            if gaps:
                row.override_reason = reason
                data = {"override": reason, "missing": gaps}
                text = f"Incident closed by override: {from_outside(reason, 300)}"
            transition(session, held, Status.CLOSED, text, actor.user_id, data, at=now)
        notes = [await hook(held) for hook in self.after_close]
        return Closed(held, tuple(gaps), " ".join(n for n in notes if n))

    async def _ask(self, incident: Incident, facts: CloseOutFacts) -> None:
        """The commander's questions, posted in the channel (once per refused close)."""
        if incident.channel_id is None:
            return
        buttons = []
        if slow_detection(facts) and not facts.alert_rules_updated:
            buttons.append(ButtonSpec(ANSWERS["alerts"], f"followup:check:{incident.id}:alerts"))
        if facts.runbooks is None:
            for answer in ("runbooks-updated", "runbooks-clear"):
                style = "primary" if answer == "runbooks-updated" else "secondary"
                buttons.append(
                    ButtonSpec(ANSWERS[answer], f"followup:check:{incident.id}:{answer}", style)
                )
        if not buttons:
            return
        commander = f"<@{incident.commander_id}>" if incident.commander_id else "Commander"
        await self._out.send(
            incident.channel_id,
            content=(
                f"📋 {commander}, before this incident closes: was the response unclear "
                "anywhere (then update the runbooks), and, if detection was slow, are the "
                "alert rules updated?"
            ),
            buttons=tuple(buttons),
            mention_users=(incident.commander_id,) if incident.commander_id else (),
        )

    async def answer(self, incident_id: int, answer: str, actor: Actor) -> str:
        """A close-out button pressed: only the commander (or the override roles) answer."""
        if answer not in ANSWERS:
            raise UserError("That button is not one of the close-out questions.")
        now = self._clock.now()
        async with self._locks.hold(incident_id), self._sessions.begin() as session:
            incident = await session.get(Incident, incident_id)
            if incident is None:
                raise UserError("That incident no longer exists.")
            if not allowed(["commander", *self._config.override], actor, incident.commander_id):
                raise NotAllowed(
                    f"Only {describe(['commander', *self._config.override])} answers this."
                )
            row = await queries.closeout_of(session, incident_id)
            if answer == "alerts":
                row.alert_rules_updated_by = actor.user_id
            else:
                row.runbooks, row.runbooks_by = answer.removeprefix("runbooks-"), actor.user_id
            record(
                session,
                incident,
                "close_out_answer",
                f"Close-out: {ANSWERS[answer]}",
                actor.user_id,
                {"answer": answer},
                at=now,
            )
        return f"Recorded: **{ANSWERS[answer]}** (<@{actor.user_id}>)."


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
