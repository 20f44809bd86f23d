"""The outbox: an effect that must happen exactly once is a row first, then the effect.

    pending ──claim──▶ sending ──it happened──▶ done
       ▲                 │ ╲
       │   Retry (nothing │  ╲ Refused (the other side said no for good) ──▶ failed
       └── happened) ─────┘   ╲
                               ╲ anything else, or a crash (found "sending" at start):
                                ▶ in_doubt, unless the kind's verifier can tell

The row is committed (with the state change that wants the effect, in the caller's
transaction) before the effect starts, and marked ``sending`` before the request
leaves. A run that stops while the other side holds the request finds ``sending``
at start: the kind's *verifier* looks for the effect (a message carrying the entry's
marker, an issue with its hidden key); found, the entry is done; certainly absent,
it is pending again; unknowable, it is ``in_doubt`` and never re-sent blindly: a
person looks and decides (:meth:`Outbox.release`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.clock import Clock
from bot.core.states import StateTable
from storage import outbox as queries
from storage.models import OutboxEntry

log = logging.getLogger(__name__)


class EffectState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DONE = "done"
    IN_DOUBT = "in_doubt"
    FAILED = "failed"


EFFECTS: StateTable[EffectState] = StateTable(
    "effect",
    {
        EffectState.PENDING: frozenset({EffectState.SENDING}),
        EffectState.SENDING: frozenset(
            {EffectState.DONE, EffectState.PENDING, EffectState.FAILED, EffectState.IN_DOUBT}
        ),
        EffectState.IN_DOUBT: frozenset({EffectState.PENDING, EffectState.DONE}),
        EffectState.FAILED: frozenset({EffectState.PENDING}),
        EffectState.DONE: frozenset(),
    },
)


class Retry(Exception):
    """Nothing happened on the other side (refused before acting, unreachable): try later."""

    def __init__(self, reason: str, not_before: timedelta = timedelta(0)) -> None:
        super().__init__(reason)
        self.not_before = not_before


class Refused(Exception):
    """The other side refused for good: retrying cannot help."""


Effect = Callable[[OutboxEntry], Awaitable[Mapping[str, Any] | None]]
# What the effect left behind if it happened (its result), None if it certainly did not;
# raise if that cannot be told now.
Verifier = Callable[[OutboxEntry], Awaitable[Mapping[str, Any] | None]]


def not_before(entry: OutboxEntry) -> datetime | None:
    """When a pending entry may be tried again, if the other side said (``Retry``'s
    ``not_before``: a 429's reset, ``Retry-After``); kept on the row until it is."""
    if entry.state != EffectState.PENDING or "not_before" not in (entry.result or {}):
        return None
    return datetime.fromisoformat(entry.result["not_before"])


def marker(entry_id: int) -> str:
    """A tag the effect carries (a footer, a hidden comment) so a verifier can find it."""
    return f"outbox:{entry_id}"


# The fencing token this replica holds now (bot/replica/), None while it holds none.
Fence = Callable[[], int | None]


class Outbox:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, fence: Fence | None = None
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._fence = fence
        self._verifiers: dict[str, Verifier] = {}

    def register_verifier(self, kind: str, verifier: Verifier) -> None:
        if kind in self._verifiers:
            raise ValueError(f"a verifier for {kind!r} is already registered")
        self._verifiers[kind] = verifier

    def add(
        self,
        session: AsyncSession,
        kind: str,
        key: str,
        payload: Mapping[str, Any] | None = None,
        incident_id: int | None = None,
    ) -> OutboxEntry:
        """A new pending effect, in ``session``'s transaction (``key`` is unique)."""
        entry = OutboxEntry(
            kind=kind,
            key=key,
            incident_id=incident_id,
            state=EffectState.PENDING,
            payload=dict(payload or {}),
            created_at=self._clock.now(),
        )
        session.add(entry)
        return entry

    async def deliver(self, entry_id: int, effect: Effect) -> OutboxEntry:
        """Claim the entry and carry out ``effect`` once; the entry as it ends up.

        An entry someone else claimed or finished is returned as it is, untouched.
        ``Retry`` leaves it pending (the caller schedules the next try), ``Refused``
        fails it, and any other exception leaves it in doubt and is raised.
        """
        token = None if self._fence is None else self._fence()
        if self._fence is not None and token is None:
            log.warning("outbox entry %s left pending: this replica holds no lease", entry_id)
            claimed = None
        else:
            async with self._sessions.begin() as session:
                claimed = await queries.claim(session, entry_id, self._clock.now(), token)
        if claimed is None:
            async with self._sessions() as session:
                current = await queries.get(session, entry_id)
            if current is None:
                raise LookupError(f"no outbox entry {entry_id}")
            return current
        try:
            result = await effect(claimed)
        except Retry as error:
            wait = error.not_before if error.not_before > timedelta(0) else None
            return await self._settle(
                claimed, EffectState.PENDING, error=str(error), not_before=wait
            )
        except Refused as error:
            return await self._settle(claimed, EffectState.FAILED, error=str(error))
        except BaseException as error:
            await self._settle(
                claimed, EffectState.IN_DOUBT, error=f"{type(error).__name__}: {error}"
            )
            raise
        return await self._settle(claimed, EffectState.DONE, result=result)

    async def recover(self) -> list[OutboxEntry]:
        """At start: settle what the last run left ``sending``; the entries left in doubt."""
        async with self._sessions() as session:
            stuck = await queries.in_state(session, EffectState.SENDING)
        doubtful = []
        for entry in stuck:
            verifier = self._verifiers.get(entry.kind)
            found: Mapping[str, Any] | None = None
            state = EffectState.IN_DOUBT
            if verifier is not None:
                try:
                    found = await verifier(entry)
                    state = EffectState.DONE if found is not None else EffectState.PENDING
                except Exception:
                    log.warning(
                        "could not verify outbox entry %s (%s)", entry.id, entry.kind, exc_info=True
                    )
            settled = await self._settle(
                entry, state, result=found, error="the bot stopped while this was being sent"
            )
            if settled.state == EffectState.IN_DOUBT:
                doubtful.append(settled)
        return doubtful

    async def release(self, entry_id: int) -> OutboxEntry:
        """A person checked an entry in doubt (or failed) and wants it sent: pending again."""
        async with self._sessions.begin() as session:
            entry = await queries.get(session, entry_id)
            if entry is None:
                raise LookupError(f"no outbox entry {entry_id}")
            entry.state = EFFECTS.check(entry.state, EffectState.PENDING)
            entry.updated_at = self._clock.now()
        return entry

    async def _settle(
        self,
        entry: OutboxEntry,
        state: EffectState,
        result: Mapping[str, Any] | None = None,
        error: str | None = None,
        not_before: timedelta | None = None,
    ) -> OutboxEntry:
        async with self._sessions.begin() as session:
            row = await queries.get(session, entry.id)
            assert row is not None
            row.state = EFFECTS.check(row.state, state)
            now = self._clock.now()
            row.updated_at = now
            if state is EffectState.DONE:
                row.result = dict(result or {})
                row.done_at = now
                row.last_error = None
            elif error is not None:
                row.last_error = error[:2000]
            if state is EffectState.PENDING:  # a Retry: what the other side asked is kept
                row.result = {"not_before": (now + not_before).isoformat()} if not_before else {}
        return row
