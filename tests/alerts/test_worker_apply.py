"""The worker's first step on a real SQLite file: stored notifications → groups, alerts, notes.

Opening channels and posting notes need Discord and are tested end to end
(tests/e2e/test_alerts.py); applying needs only the database.
"""

from __future__ import annotations

import copy
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from bot.alerts.metrics import AlertMetrics
from bot.alerts.worker import AlertWorker
from bot.alerts.writer import Writer
from bot.core.render import Renderer
from bot.settings import parse_config
from storage.db import make_engine, make_sessions, upgrade
from storage.models import AlertNotification
from storage.types import utcnow
from tests.alerts.conftest import payload

AM = "alertmanager_probe_failure.json"


class Applier:
    def __init__(self, path: Path, **alerts: Any) -> None:
        upgrade(path)
        self.path = path
        self.engine = make_engine(path)
        config = parse_config({"alerts": alerts})
        sessions = make_sessions(self.engine)
        self.metrics = AlertMetrics()
        # Only the apply step runs here: it touches no incident, Discord or rotation.
        self.writer = Writer(path)
        self.worker = AlertWorker(
            config,
            sessions,
            None,  # type: ignore[arg-type]
            None,  # type: ignore[arg-type]
            None,  # type: ignore[arg-type]
            Renderer(config.zone),
            self.metrics,
            self.writer,
        )

    async def store(self, source: str, *bodies: dict[str, Any] | str) -> None:
        rows = [
            {
                "source": source,
                "body": b if isinstance(b, str) else json.dumps(b),
                "state": "pending",
                "received_at": utcnow(),
            }
            for b in bodies
        ]
        async with self.engine.begin() as connection:
            await connection.execute(insert(AlertNotification.__table__), rows)

    async def apply(self) -> int:
        rounds = 0
        while await self.worker.apply_pending():
            rounds += 1
        return rounds

    async def close(self) -> None:
        await self.writer.close()
        await self.engine.dispose()

    def rows(self, query: str) -> list[tuple]:
        with sqlite3.connect(self.path) as db:
            return db.execute(query).fetchall()

    def notes(self) -> list[list[str]]:
        return [
            [n["kind"] for n in json.loads(notes)]
            for (notes,) in self.rows("SELECT notes FROM alert_groups ORDER BY id")
        ]


@pytest.fixture
async def applier(tmp_path):
    running = Applier(tmp_path / "worker.sqlite3", storm_limit=10)
    yield running
    await running.close()


def group(number: int, *, status: str = "firing", fingerprint: str | None = None) -> dict[str, Any]:
    body = copy.deepcopy(payload(AM))
    body["groupKey"] = f'{{}}:{{alertname="Group{number}"}}'
    body["status"] = status
    body["alerts"][0]["status"] = status
    body["alerts"][0]["fingerprint"] = fingerprint or f"fp{number:014d}"
    return body


async def test_a_new_group_is_one_opening_group_with_its_opened_note(applier):
    await applier.store("alertmanager", group(1))
    await applier.apply()
    assert applier.rows("SELECT source, state, severity, title FROM alert_groups") == [
        ("alertmanager", "opening", "P1", "BlackBox Probe Failure: https://server.example.org")
    ]
    assert applier.notes() == [["opened"]]
    assert applier.rows("SELECT state FROM alert_notifications") == [("done",)]


async def test_the_same_notification_again_only_counts_the_alert_up(applier):
    await applier.store("alertmanager", *[group(1)] * 5)
    await applier.apply()
    assert applier.rows("SELECT count(*) FROM alert_groups") == [(1,)]
    assert applier.rows("SELECT fire_count, status FROM alerts") == [(5, "firing")]
    assert applier.notes() == [["opened"]]


async def test_new_resolved_and_refiring_alerts_become_notes_in_order(applier):
    grown = group(1)
    second = copy.deepcopy(grown["alerts"][0])
    second["fingerprint"] = "second0000000000"
    second["labels"]["instance"] = "b"
    grown["alerts"].append(second)
    await applier.store("alertmanager", group(1), grown, group(1, status="resolved"), group(1))
    await applier.apply()
    assert applier.notes() == [["opened", "new", "resolved", "refiring"]]
    assert sorted(applier.rows("SELECT fingerprint, status, fire_count FROM alerts")) == [
        ("fp00000000000001", "firing", 3),  # notifications 1, 2 and 4
        ("second0000000000", "firing", 1),
    ]


async def test_the_resolution_of_a_group_never_seen_firing_opens_nothing(applier):
    await applier.store("alertmanager", group(7, status="resolved"))
    await applier.store("generic", {"event_action": "acknowledge", "dedup_key": "unknown"})
    await applier.apply()
    assert applier.rows("SELECT count(*) FROM alert_groups") == [(0,)]
    assert applier.rows("SELECT state FROM alert_notifications") == [("done",), ("done",)]


async def test_a_storm_of_10000_notifications_over_300_groups_is_300_groups_and_a_digest(applier):
    bodies = [group(n % 300) for n in range(10_000)]
    await applier.store("alertmanager", *bodies)
    await applier.apply()
    assert applier.rows("SELECT count(*) FROM alert_groups") == [(300,)]
    assert applier.rows(
        "SELECT state, count(*) FROM alert_groups GROUP BY state ORDER BY state"
    ) == [
        ("digest", 290),
        ("opening", 10),  # alerts.storm_limit
    ]
    assert applier.rows("SELECT sum(fire_count) FROM alerts") == [(10_000,)]
    assert applier.rows("SELECT count(*) FROM alert_notifications WHERE state != 'done'") == [(0,)]
    digest_notes = applier.rows("SELECT notes FROM alert_groups WHERE state = 'digest'")
    assert {notes for (notes,) in digest_notes} == {"[]"}


async def test_severity_comes_from_the_label_and_falls_back_with_a_note(tmp_path):
    applier = Applier(tmp_path / "sev.sqlite3", severity_map={"critical": "P0"})
    try:
        body = group(1)
        grafana = payload("grafana_high_usage.json")
        weird = group(2)
        weird["alerts"][0]["labels"]["severity"] = "sev-unknown"
        await applier.store("alertmanager", body, weird)
        await applier.store("grafana", grafana)
        await applier.apply()
        rows = applier.rows("SELECT severity, severity_note FROM alert_groups ORDER BY id")
        assert rows[0] == ("P0", None)
        assert rows[1][0] == "P2" and "`sev-unknown` is not in `alerts.severity_map`" in rows[1][1]
        assert rows[2][0] == "P2" and "no `severity` label" in rows[2][1]
    finally:
        await applier.close()


async def test_an_unreadable_stored_body_is_marked_failed_and_the_rest_applied(applier):
    await applier.store("alertmanager", "{not json", group(1))
    await applier.apply()
    states = applier.rows("SELECT state, error IS NOT NULL FROM alert_notifications ORDER BY id")
    assert states == [("failed", 1), ("done", 0)]
    assert applier.rows("SELECT count(*) FROM alert_groups") == [(1,)]
