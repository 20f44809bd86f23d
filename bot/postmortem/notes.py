"""What people write for the postmortem: the 5-whys chain, the impact, the lessons.

Kept in the database (one row per incident), so a redraft keeps every word of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.locks import IncidentLocks
from bot.errors import UserError
from storage import postmortem as queries

TEXT_LIMIT = 1000
MAX_WHYS = 20
MAX_LESSONS = 30


@dataclass(frozen=True)
class Written:
    what: str  # "why 2", "impact", "lesson 1"
    replaced: bool
    total: int  # whys or lessons now (1 for the impact)


def checked(text: str) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise UserError("The text is empty: say it in `text:`.")
    if len(cleaned) > TEXT_LIMIT:
        raise UserError(f"Keep it under {TEXT_LIMIT} characters ({len(cleaned)} given).")
    return cleaned


class NotesService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], locks: IncidentLocks) -> None:
        self._sessions, self._locks = sessions, locks

    async def why(self, incident_id: int, text: str, replace: int | None = None) -> Written:
        """Append a why to the chain, or with ``replace`` (1-based) rewrite that one."""
        cleaned = checked(text)
        async with self._locks.hold(incident_id), self._sessions.begin() as session:
            row = await queries.record_of(session, incident_id)
            whys = list(row.whys or [])
            if replace is not None:
                if not 1 <= replace <= len(whys):
                    have = f"1 to {len(whys)}" if whys else "none yet"
                    raise UserError(f"There is no why {replace} to replace (the chain has {have}).")
                whys[replace - 1] = cleaned
                row.whys = whys
                return Written(f"why {replace}", True, len(whys))
            if len(whys) >= MAX_WHYS:
                raise UserError(f"The chain has {MAX_WHYS} whys already; replace one instead.")
            whys.append(cleaned)
            row.whys = whys
            return Written(f"why {len(whys)}", False, len(whys))

    async def impact(self, incident_id: int, text: str) -> Written:
        cleaned = checked(text)
        async with self._locks.hold(incident_id), self._sessions.begin() as session:
            row = await queries.record_of(session, incident_id)
            replaced = row.impact is not None
            row.impact = cleaned
            return Written("impact", replaced, 1)

    async def lesson(self, incident_id: int, text: str) -> Written:
        cleaned = checked(text)
        async with self._locks.hold(incident_id), self._sessions.begin() as session:
            row = await queries.record_of(session, incident_id)
            lessons = list(row.lessons or [])
            if len(lessons) >= MAX_LESSONS:
                raise UserError(f"There are {MAX_LESSONS} lessons already.")
            lessons.append(cleaned)
            row.lessons = lessons
            return Written(f"lesson {len(lessons)}", False, len(lessons))


def render_written(written: Written) -> str:
    verb = "Replaced" if written.replaced else "Added"
    if written.what.startswith("why"):
        return f"{verb} {written.what} of the 5-whys chain ({written.total} so far)."
    if written.what == "impact":
        return f"{verb} the impact."
    return f"{verb} {written.what}."
