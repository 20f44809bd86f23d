"""Injected failures (``POST /_sandbox/faults``): REST errors and gateway trouble, counted down.

Held requests (issue 15): ``hold`` stops a matching Discord request before it takes effect,
``hold_after`` after; either waits until ``POST /_sandbox/holds/release``, and
``GET /_sandbox/holds`` tells that it arrived, so a drill can kill the bot at that step.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# ``server_error_after``: the request takes effect, then answers 500 (Discord does this),
# so a retry must find the earlier effect rather than act twice. Discord REST only.
AFTER_EFFECT = "server_error_after"
# ``forbidden``: Discord's 403 Missing Permissions, nothing done. Discord REST only.
FORBIDDEN = "forbidden"
BEFORE_EFFECT_KINDS = frozenset({"rate_limit", "server_error"})  # also X and GitHub
HOLD, HOLD_AFTER = "hold", "hold_after"  # Discord REST, and X when the fault names its prefix
HOLD_KINDS = frozenset({HOLD, HOLD_AFTER})
REST_KINDS = BEFORE_EFFECT_KINDS | {AFTER_EFFECT, FORBIDDEN} | HOLD_KINDS
GATEWAY_KINDS = frozenset({"disconnect", "invalid_session", "reconnect"})
KINDS = REST_KINDS | GATEWAY_KINDS


@dataclass
class Fault:
    kind: str
    remaining: int
    path_prefix: str = ""
    method: str = ""  # empty: any method
    path_pattern: str = ""  # a regular expression searched in the path; empty: any

    def matches(self, path: str, method: str) -> bool:
        return (
            path.startswith(self.path_prefix)
            and (not self.method or method.upper() == self.method)
            and (not self.path_pattern or re.search(self.path_pattern, path) is not None)
        )

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "kind": self.kind,
            "remaining": self.remaining,
            "path_prefix": self.path_prefix or None,
        }
        if self.method or self.path_pattern:
            described.update(method=self.method or None, path_pattern=self.path_pattern or None)
        return described


@dataclass
class Held:
    """A request a ``hold`` or ``hold_after`` fault stopped, until it is released."""

    id: int
    kind: str
    method: str
    path: str
    arrived_at: datetime
    released: asyncio.Event = field(default_factory=asyncio.Event)
    drop: bool = False

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "method": self.method,
            "path": self.path,
            "arrived_at": self.arrived_at.isoformat(),
            "released": self.released.is_set(),
            "dropped": self.drop,
        }


class Faults:
    """Pending faults. REST ones match on a path prefix relative to ``/api/v10``."""

    def __init__(self) -> None:
        self._pending: list[Fault] = []
        self._held: dict[int, Held] = {}
        self._ids = itertools.count(1)

    def add(
        self,
        kind: str,
        count: int,
        path_prefix: str | None = None,
        method: str | None = None,
        path_pattern: str | None = None,
    ) -> Fault:
        prefix = (path_prefix or "").removeprefix("/api/v10")
        fault = Fault(
            kind=kind,
            remaining=count,
            path_prefix=prefix,
            method=(method or "").upper(),
            path_pattern=path_pattern or "",
        )
        if count > 0:
            self._pending.append(fault)
        return fault

    def take_rest(self, path: str, method: str = "") -> Fault | None:
        for fault in self._pending:
            if fault.kind in REST_KINDS and fault.matches(path, method):
                self._use(fault)
                return fault
        return None

    def take_rest_prefixed(
        self, path: str, kinds: frozenset[str] = BEFORE_EFFECT_KINDS
    ) -> Fault | None:
        """For services beside Discord (X, GitHub): only faults of ``kinds`` that name a
        prefix of ``path``."""
        for fault in self._pending:
            if fault.kind in kinds and fault.path_prefix and path.startswith(fault.path_prefix):
                self._use(fault)
                return fault
        return None

    def take_gateway(self, kind: str) -> bool:
        for fault in self._pending:
            if fault.kind == kind:
                self._use(fault)
                return True
        return False

    def _use(self, fault: Fault) -> None:
        fault.remaining -= 1
        if fault.remaining <= 0:
            self._pending.remove(fault)

    def describe(self) -> list[dict[str, Any]]:
        return [fault.describe() for fault in self._pending]

    async def hold(self, fault: Fault, method: str, path: str) -> bool:
        """Wait until released; True when the release dropped the request (no effect)."""
        held = Held(next(self._ids), fault.kind, method, path, datetime.now(UTC))
        self._held[held.id] = held
        await held.released.wait()
        return held.drop

    def release(self, held_id: int | None = None, drop: bool = False) -> list[Held]:
        """Release one held request (or every waiting one); ``drop``: a ``hold`` then answers
        503 without taking effect, as if the request had never reached Discord."""
        chosen = [
            h
            for h in self._held.values()
            if not h.released.is_set() and (held_id is None or h.id == held_id)
        ]
        for held in chosen:
            held.drop = drop
            held.released.set()
        return chosen

    def describe_held(self) -> list[dict[str, Any]]:
        return [held.describe() for held in self._held.values()]
