"""The per-incident lock: one registry for the whole bot.

It serialises *state changes* of one incident (read, decide, write, commit). It is
never held across a call to Discord or any other outside system: take it, change the
rows, let go, then act. :func:`holding` tells the Discord adapter whether the current
task holds one, and the adapter refuses the call if it does, so the rule is checked,
not hoped for.

A key lives in the registry only while someone holds it or waits for it, so a
long-running process keeps the incidents being worked on now, not every one it saw.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

_held: ContextVar[tuple[Hashable, ...]] = ContextVar("incident_locks_held", default=())


class LockHeldAcrossCall(RuntimeError):
    """An outside call was made while an incident lock was held: a bug, never a user error."""


@dataclass
class _Entry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0  # holding or waiting


class IncidentLocks:
    def __init__(self) -> None:
        self._entries: dict[Hashable, _Entry] = {}

    @asynccontextmanager
    async def hold(self, key: Hashable, *, across_calls: bool = False) -> AsyncIterator[None]:
        """Hold ``key``'s lock. ``across_calls=True`` is for a serialiser of outside effects
        (one edit of a message at a time) that no command ever waits on: the rule that
        no outside call is made under the lock does not apply to it."""
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
        entry.users += 1
        try:
            async with entry.lock:
                if across_calls:
                    yield
                    return
                token = _held.set((*_held.get(), key))
                try:
                    yield
                finally:
                    _held.reset(token)
        finally:
            entry.users -= 1
            if entry.users == 0 and self._entries.get(key) is entry:
                del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)

    def locked(self, key: Hashable) -> bool:
        entry = self._entries.get(key)
        return entry is not None and entry.lock.locked()


def holding() -> tuple[Hashable, ...]:
    """The lock keys the current task holds (empty outside any ``hold``)."""
    return _held.get()


def check_not_holding(what: str) -> None:
    """Raise if the current task holds an incident lock; call before any outside call."""
    keys = holding()
    if keys:
        raise LockHeldAcrossCall(f"{what} while holding the incident lock of {keys!r}")
