"""Which outside systems are not answering now: /healthz names each by its own name.

A caller whose request to GitHub, X, the ops repository's remote or the chain's RPC
failed for want of an answer (5xx, timeout, a refused connection) says so with
:meth:`Outages.down`; its next request that gets an answer says :meth:`Outages.up`.
/healthz shows one part per system (``github``, ``x``, ``ops_repo``, ``rpc``), failing
while it is down, so an operator reads "GitHub is down", not only "a timer of
incident 12 fails". The state is this run's (memory): after a restart the next failed
request names the system again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class Outages:
    def __init__(self) -> None:
        self._down: dict[str, str] = {}  # system → what its last failed request said

    def down(self, system: str, error: str) -> bool:
        """``system`` did not answer; True when it was answering until now."""
        new = system not in self._down
        self._down[system] = error[:300]
        if new:
            log.warning("%s is not answering: %s", system, error)
        return new

    def up(self, system: str) -> bool:
        """``system`` answered; True when it was down until now."""
        if self._down.pop(system, None) is None:
            return False
        log.info("%s answers again", system)
        return True

    def is_down(self, system: str) -> bool:
        return system in self._down

    def part(self, system: str) -> Callable[[], tuple[bool, Any]]:
        """/healthz's part for ``system`` (bot/alerts/service.py ``health_parts``)."""

        def health() -> tuple[bool, Any]:
            error = self._down.get(system)
            return error is None, "ok" if error is None else f"not answering: {error}"

        return health
