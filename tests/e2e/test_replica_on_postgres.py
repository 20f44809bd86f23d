"""The bot on PostgreSQL loses its lease to another replica: it steps down at once.

Another replica takes the lease (as it would after this one was paused past its
expiry): at its next renewal the bot sees it is no longer the holder, closes the
gateway, stops its timers and workers, and its fence lets no effect start.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.runtime import LeaseLost
from storage import lease
from storage.db import make_engine, make_sessions
from tests.e2e.helpers import ALWAYS_ON_CALL


@pytest.fixture
def engine() -> str:
    return "postgres"


@pytest.fixture
def overlay():
    return {**ALWAYS_ON_CALL, "replica": {"lease_ttl": "3s", "renew_every": "200ms"}}


async def test_a_replica_whose_lease_another_took_closes_the_gateway_and_acts_no_more(bot, control):
    runtime = bot.runtime
    assert runtime.replica.token() == 1
    assert not await _no_sessions(control), "connected while it holds the lease"
    engine = make_engine(bot.database)
    try:
        async with make_sessions(engine).begin() as session:
            await lease.expire_now(session)  # as if it had been paused past its expiry
            taken = await lease.acquire(session, "intruder", 30.0)
        assert taken.token == 2
        await control.wait_for(lambda: runtime.finished.done() or None, what="the step-down")
        assert isinstance(runtime.finished.exception(), LeaseLost)
        assert runtime.replica.token() is None
        await control.wait_for(lambda: _no_sessions(control), what="the gateway session to close")
        async with make_sessions(engine)() as session:
            holder = await session.scalar(select(lease.ReplicaLease.holder))
        assert holder == "intruder"  # the stepping down replica took nothing back
    finally:
        await engine.dispose()


async def _no_sessions(control) -> bool | None:  # type: ignore[no-untyped-def]
    sessions = (await control.request("GET", "gateway"))["sessions"]
    return True if not any(s["connected"] for s in sessions) else None
