"""Hypothesis against the running bot.

The bot runs on the test's event loop; Hypothesis is synchronous. ``hypothesize`` runs the
property in a thread, and each example's check on the bot's loop, so a failure is shrunk
and reported as Hypothesis does (the smallest example, reproducible: derandomized, no
example database). For a deeper look than the suite's: ``FUZZ_SCALE=10`` runs ten times
the examples, ``FUZZ_SEED=n`` a random (seeded) sequence instead of the fixed one.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from sqlalchemy import select

from storage.models import AlertNotification, Incident

T = TypeVar("T")
EXAMPLE_TIMEOUT = 30.0  # seconds one example may take before the property fails


async def hypothesize(
    strategy: st.SearchStrategy[T], check: Callable[[T], Awaitable[None]], examples: int
) -> None:
    loop = asyncio.get_running_loop()
    chosen = os.environ.get("FUZZ_SEED")

    @settings(
        max_examples=max(1, int(examples * float(os.environ.get("FUZZ_SCALE", "1")))),
        derandomize=chosen is None,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(strategy)
    def prop(value: T) -> None:
        asyncio.run_coroutine_threadsafe(check(value), loop).result(EXAMPLE_TIMEOUT)

    if chosen is not None:
        prop = seed(int(chosen))(prop)

    await asyncio.to_thread(prop)


async def paced(world: Any, control: Any) -> None:
    """Wait until Discord's global limit (50 requests a second) has room: tests run far
    faster than people do, and the bot must never be told 429 (the world fixture checks)."""
    limits = world.discord.rate_limits

    def room() -> bool:
        window = limits.global_window
        return window is None or window.used < 15 or window.reset_after(limits.clock()) <= 0

    await control.wait_for(room, interval=0.02, what="room under the global limit")


async def consistent(bot: Any, control: Any) -> None:
    """No partial state: every accepted notification handled, every incident with its
    channel (waited for: opening an incident and draining alerts take a moment)."""

    async def settled() -> bool:
        async with bot.services.sessions() as session:
            pending = await session.scalar(
                select(AlertNotification.id).where(AlertNotification.state == "pending").limit(1)
            )
            half_open = await session.scalar(
                select(Incident.id).where(Incident.channel_id.is_(None)).limit(1)
            )
        return pending is None and half_open is None

    await control.wait_for(
        settled, timeout=20, what="no pending notification, no channel-less incident"
    )


# -- values of every JSON shape, of the kinds that break parsers ---------------------------------
texts = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "\u0000", "@everyone", "<@1>", "`", "x" * 3000, "é🔥\u202e", "null"]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    texts,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(texts, inner, max_size=4)),
    max_leaves=12,
)
