"""The replica lease on PostgreSQL: the database decides who acts; effects carry the token."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from bot.core.clock import ManualClock
from bot.core.outbox import EffectState, Outbox
from bot.replica.config import ReplicaConfig
from bot.replica.lease import Replica
from storage import lease
from storage import outbox as outbox_queries
from storage import timers as timer_queries
from storage.db import make_engine, make_sessions, upgrade
from storage.models import Timer

TTL = 10.0


async def _acquire(sessions, me: str, single: bool = False) -> lease.LeaseState:  # type: ignore[no-untyped-def]
    async with sessions.begin() as session:
        return await lease.acquire(session, me, TTL, single)


async def _expire(sessions) -> None:  # type: ignore[no-untyped-def]
    async with sessions.begin() as session:
        await lease.expire_now(session)


async def test_one_replica_holds_the_lease_and_the_other_waits(pg_sessions):
    a = await _acquire(pg_sessions, "a")
    b = await _acquire(pg_sessions, "b")
    assert a.token == 1 and a.took_over_from is None
    assert b.token is None and b.holder == "a" and 0 < b.expires_in <= TTL
    renewed = await _acquire(pg_sessions, "a")
    assert renewed.token == 1 and renewed.renewed


async def test_after_expiry_the_standby_takes_over_with_a_new_token(pg_sessions):
    await _acquire(pg_sessions, "a")
    await _expire(pg_sessions)  # a died (kill -9) long enough ago
    b = await _acquire(pg_sessions, "b")
    assert b.token == 2 and b.took_over_from == "a"
    late = await _acquire(pg_sessions, "a")  # a was only paused and comes back
    assert late.token is None and late.holder == "b"


async def test_two_replicas_started_at_the_same_instant_get_one_lease(pg_migrated):
    engines = [make_engine(pg_migrated) for _ in range(4)]
    try:
        states = await asyncio.gather(
            *(_acquire(make_sessions(e), f"r{n}") for n, e in enumerate(engines))
        )
    finally:
        for engine in engines:
            await engine.dispose()
    holders = [s for s in states if s.token is not None]
    assert len(holders) == 1 and holders[0].token == 1
    assert {s.holder for s in states} == {holders[0].holder}


async def test_an_outbox_row_is_claimed_only_while_the_claimants_token_is_current(pg_sessions):
    first = await _acquire(pg_sessions, "a")
    box = Outbox(pg_sessions, ManualClock())
    async with pg_sessions.begin() as session:
        entry = box.add(session, "page", "page:1:2", {"to": "bob"})
    await _expire(pg_sessions)
    second = await _acquire(pg_sessions, "b")
    async with pg_sessions.begin() as session:  # a, paused past its expiry, tries to act
        stale = await outbox_queries.claim(session, entry.id, ManualClock().now(), first.token)
    assert stale is None
    async with pg_sessions.begin() as session:
        claimed = await outbox_queries.claim(session, entry.id, ManualClock().now(), second.token)
    assert claimed is not None and claimed.state == EffectState.SENDING


async def test_a_timer_is_claimed_only_with_the_current_token(pg_sessions):
    first = await _acquire(pg_sessions, "a")
    clock = ManualClock()
    async with pg_sessions.begin() as session:
        timer = Timer(kind="escalate", incident_id=None, due_at=clock.now(), payload={})
        session.add(timer)
    await _expire(pg_sessions)
    second = await _acquire(pg_sessions, "b")
    async with pg_sessions.begin() as session:
        assert not await timer_queries.claim(session, timer.id, first.token)
    async with pg_sessions.begin() as session:
        assert await timer_queries.claim(session, timer.id, second.token)


async def test_a_paused_holder_stops_fencing_before_the_database_would_let_another_in(
    pg_migrated,
):
    now = [100.0]
    replica = Replica(
        pg_migrated,
        ReplicaConfig(name="a", lease_ttl=timedelta(seconds=TTL), renew_every=timedelta(seconds=2)),
        monotonic=lambda: now[0],
    )
    assert await replica.attempt()
    assert replica.token() == 1 and replica.role == "active"
    now[0] += TTL  # a GC pause or a frozen VM as long as the lease: no effect may start
    assert replica.token() is None and replica.role == "standby"
    await replica.close()


async def test_a_clean_stop_lets_the_lease_go_at_once(pg_migrated):
    config = ReplicaConfig(name="a")
    first = Replica(pg_migrated, config)
    assert await first.attempt()
    await first.close()
    second = Replica(pg_migrated, ReplicaConfig(name="b"))
    assert await second.attempt()  # no wait for the expiry
    assert second.took_over_from == "a" and second.token() == 2
    await second.close()


async def test_on_sqlite_the_one_replica_takes_the_lease_at_once_even_after_a_crash(
    tmp_path: Path,
):
    path = tmp_path / "bot.sqlite3"
    upgrade(path)
    crashed = Replica(path, ReplicaConfig(name="before-the-crash"))
    assert await crashed.attempt()  # and then never released (kill -9)
    restarted = Replica(path, ReplicaConfig(name="after-the-restart"))
    assert await restarted.attempt() and restarted.token() == 2
    assert restarted.took_over_from is None  # a restart, not a takeover to announce
    await restarted.close()


async def test_a_holder_that_cannot_reach_the_database_steps_down(
    pg_migrated,
):
    config = ReplicaConfig(
        name="a", lease_ttl=timedelta(seconds=0.6), renew_every=timedelta(seconds=0.1)
    )
    replica = Replica(pg_migrated, config)
    assert await replica.attempt()
    assert replica._engine is not None
    await replica._engine.dispose()
    replica._engine = make_engine(pg_migrated.set(port=1))  # the database went away
    replica.keep()
    await asyncio.wait_for(replica.lost.wait(), timeout=30)
    assert replica.token() is None and replica.role == "standby"
    await replica.close()


async def test_after_a_failed_renewal_the_holder_keeps_the_lease_only_two_rounds_ahead(
    pg_migrated,
):
    now = [0.0]
    config = ReplicaConfig(
        name="a", lease_ttl=timedelta(seconds=TTL), renew_every=timedelta(seconds=2)
    )
    replica = Replica(pg_migrated, config, monotonic=lambda: now[0])
    assert await replica.attempt()  # valid until 10 s on its own clock
    now[0] = 5.9
    assert replica.keeps_after_failure()  # two 2 s rounds still end before 10 s
    now[0] = 6.0
    assert not replica.keeps_after_failure()  # the next failure could come too late
    await replica.close()


async def test_a_replica_whose_clock_runs_a_minute_ahead_neither_steals_nor_keeps_longer(
    pg_sessions, monkeypatch
):
    """Expiry is the database server's clock: the replicas' own clocks are never read."""
    import time as time_module

    await _acquire(pg_sessions, "a")
    real = time_module.time
    monkeypatch.setattr(time_module, "time", lambda: real() + 60)  # b's clock is ahead
    b = await _acquire(pg_sessions, "b")
    assert b.token is None and b.holder == "a" and b.expires_in <= TTL
