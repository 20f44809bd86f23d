"""The bot on PostgreSQL loses its lease to another replica: it steps down at once.

Another replica takes the lease (as it would after this one was paused past its
expiry): at its next renewal the bot sees it is no longer the holder, closes the
gateway, stops its timers and workers, and its fence lets no effect start.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot.runtime import LeaseLost, run_until
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


async def test_the_webhook_answers_throughout_a_step_down_and_the_start_over(
    world, control, tmp_path
):
    """While the replica that lost its lease starts over as a standby, a sender's alert is
    stored (202) or answered 503 (send it again): never a refused connection."""
    from tests.e2e.conftest import bot_settings
    from tests.pg.support import fresh_database, sql_rows

    database = fresh_database("stepdown")
    overlay = {**ALWAYS_ON_CALL, "replica": {"lease_ttl": "3s", "renew_every": "200ms"}}
    settings = bot_settings(world, tmp_path / "bot-data", overlay, database)
    base = f"http://127.0.0.1:{world.webhook_port}"  # type: ignore[attr-defined]
    stop = asyncio.Event()
    running = asyncio.create_task(run_until(stop, settings))
    answers: list[int | str] = []
    accepted: list[int] = []
    try:
        connected = _health_says(base, "gateway", "connected")
        await control.wait_for(connected, timeout=30, what="the bot connected")
        sending = asyncio.Event()

        async def sender() -> None:
            number = 0
            while not sending.is_set():
                number += 1
                try:
                    status, body = await _post_alert(base, world, number)
                except aiohttp.ClientError as error:
                    answers.append(type(error).__name__)
                    continue
                answers.append(status)
                if status == 202:
                    accepted.append(body["id"])
                await asyncio.sleep(0.005)

        sent = asyncio.create_task(sender())
        engine = make_engine(database)
        try:
            async with make_sessions(engine).begin() as session:
                await lease.expire_now(session)
                await lease.acquire(session, "intruder", 60.0)
        finally:
            await engine.dispose()
        standby = _health_says(base, "status", "standby")
        await control.wait_for(standby, timeout=30, what="the replica standby again")
        so_far = len(accepted)
        await control.wait_for(
            lambda: len(accepted) > so_far or None, what="an alert stored by the standby"
        )
        sending.set()
        await sent
    finally:
        stop.set()
        await asyncio.wait_for(running, 45)
    assert running.result() is None
    refused = [a for a in answers if isinstance(a, str)]
    assert not refused, f"{len(refused)} of {len(answers)} alerts met no server: {refused[:3]}"
    assert set(answers) <= {202, 503}, answers
    assert 503 in answers, "the step-down was not seen (the bridge never answered)"
    stored = {row[0] for row in sql_rows(database, "SELECT id FROM alert_notifications")}
    assert set(accepted) <= stored, "every alert answered 202 was stored"


def _health_says(base: str, key: str, value: str):  # type: ignore[no-untyped-def]
    async def probe() -> bool | None:
        try:
            _, body = await _get(f"{base}/healthz")
        except aiohttp.ClientError:
            return None
        return True if body.get(key) == value else None

    return probe


async def _get(url: str) -> tuple[int, Any]:
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as http, http.get(url) as response:
        return response.status, await response.json(content_type=None)


async def _post_alert(base: str, world, number: int) -> tuple[int, Any]:  # type: ignore[no-untyped-def]
    token = world.webhook_bearer_token
    trigger = {
        "event_action": "trigger",
        "dedup_key": f"stepdown-{number}",
        "payload": {"summary": f"Step-down {number}", "source": "db", "severity": "warning"},
    }
    connector = aiohttp.TCPConnector(force_close=True)
    async with (
        aiohttp.ClientSession(connector=connector) as http,
        http.post(
            f"{base}/alerts/generic",
            data=json.dumps(trigger),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        ) as response,
    ):
        return response.status, await response.json(content_type=None)
