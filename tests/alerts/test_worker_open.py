"""Opening incidents and posting notes, with Discord and the incident service stood in.

One group whose channel Discord is slow to create, or whose notes it keeps
refusing, must not hold the other groups back (head-of-line blocking). Time is a
ManualClock: waiting for a condition lets a little of it pass (pacing), and a test
about backoff moves it explicitly.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import insert

from bot.alerts.metrics import AlertMetrics
from bot.alerts.rules import NOTE_TRIES, NOTES_BACKOFF
from bot.alerts.worker import AlertWorker
from bot.alerts.writer import Writer
from bot.core.clock import ManualClock
from bot.core.render import Renderer
from bot.errors import ExternalServiceError
from bot.settings import parse_config
from storage.db import make_engine, make_sessions, upgrade
from storage.models import AlertNotification, Incident
from storage.types import utcnow
from tests.alerts.test_worker_apply import group


class Incidents:
    """``IncidentService.declare`` as the worker sees it; a gate holds one group's open."""

    def __init__(self, sessions: Any) -> None:
        self._sessions = sessions
        self.gates: dict[str, asyncio.Event] = {}  # a group key's part → its open waits
        self.calls: list[str] = []

    async def declare(self, _actor, title, severity, summary=None, *, request_key, **_):
        self.calls.append(request_key)
        for part, gate in self.gates.items():
            if part in request_key:
                await gate.wait()
        async with self._sessions.begin() as session:
            incident = Incident(
                title=title,
                slug="x",
                severity=severity,
                status="declared",
                source="alert",
                request_key=request_key,
                declared_at=utcnow(),
                channel_id=f"chan-{len(self.calls)}-{request_key[-8:]}",
            )
            session.add(incident)
        return SimpleNamespace(incident=incident, created=True)


class Discord:
    def __init__(self) -> None:
        self.refuse: set[str] = set()  # channel ids whose posts fail
        self.sent: list[tuple[str, str]] = []
        self.tries: dict[str, int] = {}

    async def send(self, channel_id: str, content: str = "", mention_users=()) -> str:
        self.tries[channel_id] = self.tries.get(channel_id, 0) + 1
        if channel_id in self.refuse:
            raise ExternalServiceError("503 Service Unavailable")
        self.sent.append((channel_id, content))
        return str(len(self.sent))

    def text_channel(self, _name: str) -> None:
        return None


class Running:
    def __init__(self, path: Path) -> None:
        upgrade(path)
        self.path = path
        self.engine = make_engine(path)
        config = parse_config(
            {"alerts": {"storm_limit": 10, "open_every": "10ms", "notes_every": "10ms"}}
        )
        sessions = make_sessions(self.engine)
        self.incidents = Incidents(sessions)
        self.discord = Discord()
        self.writer = Writer(path)
        self.clock = ManualClock()
        self.worker = AlertWorker(
            config,
            sessions,
            self.incidents,  # type: ignore[arg-type]
            self.discord,  # type: ignore[arg-type]
            None,  # type: ignore[arg-type]
            Renderer(config.zone),
            AlertMetrics(),
            self.writer,
            self.clock,
        )

    async def store(self, *bodies: dict[str, Any]) -> None:
        rows = [
            {
                "source": "alertmanager",
                "body": json.dumps(b),
                "state": "pending",
                "received_at": utcnow(),
            }
            for b in bodies
        ]
        async with self.engine.begin() as connection:
            await connection.execute(insert(AlertNotification.__table__), rows)
        self.worker.wake()

    def rows(self, query: str) -> list[tuple]:
        with sqlite3.connect(self.path) as db:
            return db.execute(query).fetchall()

    async def until(
        self,
        query: str,
        expected: list[tuple],
        timeout: float = 5.0,
        tick: timedelta = timedelta(milliseconds=20),
    ) -> None:
        """Wait for the rows to read ``expected``, ``tick`` of clock time passing per look."""
        deadline = time.monotonic() + timeout
        while (found := self.rows(query)) != expected:
            if time.monotonic() > deadline:
                raise AssertionError(f"{query}: {found!r}, waited for {expected!r}")
            self.clock.advance(tick)
            await asyncio.sleep(0.02)  # the database threads work meanwhile

    async def rounds(self, count: int = 1) -> None:
        """Wake the worker and wait until it has finished ``count`` more rounds."""
        for _ in range(count):
            before = self.worker.rounds
            self.worker.wake()
            deadline = time.monotonic() + 5
            while self.worker.rounds == before:
                assert time.monotonic() < deadline, "the worker finished no round"
                await asyncio.sleep(0.005)

    async def tries(self, channel_id: str, expected: int) -> None:
        deadline = time.monotonic() + 5
        while self.discord.tries.get(channel_id, 0) != expected:
            tried = self.discord.tries.get(channel_id, 0)
            assert time.monotonic() < deadline, f"{tried} tries, waited for {expected}"
            await asyncio.sleep(0.005)

    async def close(self) -> None:
        await self.worker.stop()
        await self.writer.close()
        await self.engine.dispose()


@pytest.fixture
async def running(tmp_path):
    running = Running(tmp_path / "worker.sqlite3")
    await running.worker.start()
    yield running
    await running.close()


async def test_a_slow_open_holds_back_no_other_group(running):
    held = running.incidents.gates["Group1"] = asyncio.Event()  # Discord retrying its channel
    await running.store(group(1), group(2), group(3))
    await running.until(
        "SELECT id, state FROM alert_groups ORDER BY id",
        [(1, "opening"), (2, "open"), (3, "open")],
    )
    # The other groups' notes are posted meanwhile, too.
    await running.until("SELECT count(*) FROM alert_groups WHERE notes != '[]'", [(1,)])
    held.set()
    await running.until(
        "SELECT id, state FROM alert_groups ORDER BY id", [(1, "open"), (2, "open"), (3, "open")]
    )
    # Each group was declared once: never two channels for one group.
    assert len(running.incidents.calls) == 3
    assert running.rows("SELECT count(*) FROM incidents") == [(3,)]


async def test_an_open_under_way_is_not_started_twice(running):
    held = running.incidents.gates["Group1"] = asyncio.Event()
    await running.store(group(1))
    await running.until("SELECT count(*) FROM alert_groups", [(1,)])
    # Rounds come and go while the open waits on Discord, and pacing time passes.
    for _ in range(10):
        running.clock.advance(timedelta(seconds=1))
        await running.rounds()
    assert len(running.incidents.calls) == 1
    held.set()
    await running.until("SELECT state FROM alert_groups", [("open",)])
    assert len(running.incidents.calls) == 1


async def test_notes_a_channel_keeps_refusing_are_given_up_and_hold_back_no_one(running, caplog):
    await running.store(group(1), group(2))
    await running.until("SELECT state FROM alert_groups ORDER BY id", [("open",), ("open",)])
    await running.until("SELECT count(*) FROM alert_groups WHERE notes != '[]'", [(0,)])
    [(bad,)] = running.rows("SELECT channel_id FROM incidents WHERE id = 1")
    running.discord.refuse.add(bad)
    # Both groups get a new alert: group 1's channel refuses, group 2's note is posted.
    running.clock.advance(timedelta(seconds=1))  # past notes_every since the opening notes
    await running.store(group(1, fingerprint="new-in-group-1"), group(2, fingerprint="new-in-2"))
    await running.tries(bad, 2)  # the opening note, then the first refused try
    await running.until(
        "SELECT id FROM alert_groups WHERE notes != '[]' ORDER BY id", [(1,)], tick=timedelta(0)
    )
    # The group backs off alone: no try before its backoff has passed, one just after.
    for attempt in range(1, NOTE_TRIES):
        wait = NOTES_BACKOFF.delay(attempt)
        running.clock.advance(wait - timedelta(milliseconds=100))
        await running.rounds(3)
        assert running.discord.tries[bad] == 1 + attempt
        running.clock.advance(timedelta(milliseconds=100))
        await running.rounds()
        await running.tries(bad, 2 + attempt)
    await running.until(
        "SELECT id, last_error IS NOT NULL FROM alert_groups WHERE notes = '[]' ORDER BY id",
        [(1, True), (2, False)],
        tick=timedelta(0),
    )
    assert running.discord.tries[bad] == 1 + NOTE_TRIES  # the opening note, then the tries
    [(error,)] = running.rows("SELECT last_error FROM alert_groups WHERE id = 1")
    assert f"not posted after {NOTE_TRIES} tries" in error
    assert any("gave up posting" in r.getMessage() for r in caplog.records)
    # Recorded in the timeline all the same.
    timeline = running.rows("SELECT kind FROM timeline_events WHERE incident_id = 1")
    assert ("alert_new",) in timeline
