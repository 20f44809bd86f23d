"""How the outage drill stops an outside system, and starts it again.

- :func:`fault`: the world answers 5xx to the next requests (its ``server_error`` fault);
  they run out by themselves;
- :func:`refused`: the system's forwarder (chaos/forward.py) closes its port, so the bot's
  connections are refused, until the bot has tried at least twice against it;
- :func:`hung`: the forwarder accepts connections and never answers, until the bot has
  given up (its request timeout) at least twice;
- :func:`unreachable`: the port's connections are never made (the SYN dropped), until the
  bot has given up connecting at least twice.

A "tried twice" is read from the bot's outbox row of that kind (its attempts and its last
error), so "told once" is checked across retries, not against a single failed try.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from chaos.forward import Forwarder
from chaos.stack import Chaos, Findings, until

# GitHub's and X's addresses: the forwarders (the world's own behind them); a hung
# request gives up after this (the default is 20 s; X's connect after half of it).
THROUGH = """
[github]
api_base = "http://127.0.0.1:{github}"
request_timeout = "3s"
[x]
api_base = "http://127.0.0.1:{x}"
request_timeout = "4s"
"""


@dataclass
class Stop:
    """How an outside system is stopped (``begin``), and started again (``end``)."""

    how: str  # what the drill says it tried
    title: str  # the incident's, so each case finds its own
    begin: Callable[[], Awaitable[Any]]
    end: Callable[[], Awaitable[Any]]  # once it was named; 5xx faults run out by themselves


async def _nothing() -> None:
    return None


def fault(stack: Chaos, path: str, count: int) -> Stop:
    """5xx (the world's ``server_error`` fault) on the next ``count`` requests to ``path``."""

    async def begin() -> None:
        await stack.control.fault("server_error", count, path)

    return Stop(f"answers 5xx to the next {count} requests", "Chaos", begin, _nothing)


def refused(stack: Chaos, found: Findings, forwarder: Forwarder, kind: str) -> Stop:
    """The port closed (connections refused) until the bot has tried twice against it."""

    async def end() -> None:
        await retried(stack, found, kind, "cannot be reached")
        await forwarder.start()

    return Stop("refuses connections (its port closed)", "Refused", forwarder.stop, end)


def hung(stack: Chaos, found: Findings, forwarder: Forwarder) -> Stop:
    """Connections accepted and never answered until the bot has given up twice."""

    async def begin() -> None:
        forwarder.hang = True
        await forwarder.stop()  # the bot's kept-alive connections too: they would forward
        await forwarder.start()

    async def end() -> None:
        await retried(stack, found, "github_issue", "TimeoutError")
        forwarder.hang = False
        await forwarder.stop()  # the hung connections cut
        await forwarder.start()

    return Stop("hangs (accepts, never answers)", "Hung", begin, end)


def unreachable(stack: Chaos, found: Findings, forwarder: Forwarder, kind: str) -> Stop:
    """Connections never made (SYN dropped) until the bot has given up connecting twice."""

    async def end() -> None:
        await retried(stack, found, kind, "no connection within")
        await forwarder.start()

    return Stop("never connects (SYN dropped)", "Unreached", forwarder.unreachable, end)


async def retried(stack: Chaos, found: Findings, kind: str, says: str) -> None:
    """Until the newest ``kind`` outbox row was tried twice, its last error saying ``says``."""

    def tried() -> tuple | None:
        rows = stack.rows(
            f"SELECT attempts, last_error FROM outbox WHERE kind = '{kind}' ORDER BY id DESC"
        )
        return rows[0] if rows and rows[0][0] >= 2 and says in (rows[0][1] or "") else None

    try:
        row = await until(tried, 90, f"two tries of the {kind} while it is stopped")
    except TimeoutError:
        row = None
    found.check(row is not None, f"{kind}: tried again while stopped, {says!r}", "never")
    if row:
        found.saw(f"{kind} while stopped: {row[0]} tries, last error {row[1]!r}")
