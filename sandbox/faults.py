"""Injected failures (``POST /_sandbox/faults``): REST errors and gateway trouble, counted down."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# ``server_error_after``: the request takes effect, then answers 500 (Discord does this),
# so a retry must find the earlier effect rather than act twice. Discord REST only.
AFTER_EFFECT = "server_error_after"
# ``forbidden``: Discord's 403 Missing Permissions, nothing done. Discord REST only.
FORBIDDEN = "forbidden"
BEFORE_EFFECT_KINDS = frozenset({"rate_limit", "server_error"})  # also X and GitHub
REST_KINDS = BEFORE_EFFECT_KINDS | {AFTER_EFFECT, FORBIDDEN}
GATEWAY_KINDS = frozenset({"disconnect", "invalid_session", "reconnect"})
KINDS = REST_KINDS | GATEWAY_KINDS


@dataclass
class Fault:
    kind: str
    remaining: int
    path_prefix: str = ""

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "remaining": self.remaining,
            "path_prefix": self.path_prefix or None,
        }


class Faults:
    """Pending faults. REST ones match on a path prefix relative to ``/api/v10``."""

    def __init__(self) -> None:
        self._pending: list[Fault] = []

    def add(self, kind: str, count: int, path_prefix: str | None = None) -> Fault:
        prefix = (path_prefix or "").removeprefix("/api/v10")
        fault = Fault(kind=kind, remaining=count, path_prefix=prefix)
        if count > 0:
            self._pending.append(fault)
        return fault

    def take_rest(self, path: str) -> Fault | None:
        for fault in self._pending:
            if fault.kind in REST_KINDS and path.startswith(fault.path_prefix):
                self._use(fault)
                return fault
        return None

    def take_rest_prefixed(self, path: str) -> Fault | None:
        """For services beside Discord (X, GitHub): only faults that name a prefix of ``path``."""
        for fault in self._pending:
            if (
                fault.kind in BEFORE_EFFECT_KINDS
                and fault.path_prefix
                and path.startswith(fault.path_prefix)
            ):
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
