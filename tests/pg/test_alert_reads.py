"""The alert worker's DB-API reads (storage/alerts/reads.py) give what the models load.

They bypass SQLAlchemy's column types, so each value is checked against the same row
loaded through the ORM, on a SQLite file and on PostgreSQL: JSON decoded, moments aware
in UTC with their microseconds, and only the rows asked for.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import URL, select

from bot.alerts.writer import Writer
from storage.alerts import reads
from storage.db import make_engine, make_sessions, upgrade
from storage.models import Alert, AlertGroup, Incident

NOW = datetime(2026, 12, 2, 21, 4, 5, 123456, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Path | URL:
    if request.param == "postgresql":
        url: URL = request.getfixturevalue("pg_migrated")
        return url
    path = tmp_path / "reads.sqlite3"
    upgrade(path)
    return path


def _columns(row: object, model: type) -> dict[str, object]:
    return {c.key: getattr(row, c.key) for c in model.__table__.columns}  # type: ignore[attr-defined]


async def test_each_read_gives_the_rows_as_the_orm_loads_them(target: Path | URL):
    engine = make_engine(target)
    sessions = make_sessions(engine)
    async with sessions.begin() as session:
        resolved = Incident(
            title="Withdrawals failing",
            slug="withdrawals-failing",
            severity="P1",
            status="resolved",
            source="alert",
            request_key="alert:alertmanager:api:1",
            declared_at=NOW - timedelta(hours=2),
            channel_id="9001",
            resolved_at=NOW - timedelta(hours=1),
        )
        session.add(resolved)
        await session.flush()
        groups = [
            AlertGroup(
                source="alertmanager",
                group_key="api",
                state="opening",
                incident_id=resolved.id,
                title="API down",
                notes=[{"kind": "opened", "at": NOW.isoformat(), "alerts": ["x"]}],
                next_attempt_at=NOW - timedelta(seconds=1),
                first_seen=NOW - timedelta(hours=3),
                last_seen=NOW,
            ),
            AlertGroup(
                source="grafana",
                group_key="api",
                state="open",
                title="Other source",
                first_seen=NOW - timedelta(seconds=10),
            ),
            AlertGroup(
                source="alertmanager",
                group_key="db",
                state="opening",
                title="Retry later",
                next_attempt_at=NOW + timedelta(minutes=5),
                first_seen=NOW - timedelta(hours=2),
            ),
            AlertGroup(
                source="alertmanager",
                group_key="storm",
                state="digest",
                title="Listed in the digest",
                first_seen=NOW,
            ),
        ]
        session.add_all(groups)
        await session.flush()
        session.add_all(
            Alert(
                group_id=groups[0].id,
                fingerprint=fingerprint,
                name="ApiDown",
                status=status,
                labels={"severity": "critical", "service": "api"},
                annotations={"summary": "5xx above 5%"},
                starts_at=NOW - timedelta(minutes=minutes),
                first_seen=NOW,
                last_seen=NOW,
            )
            for fingerprint, status, minutes in (
                ("f1", "firing", 3),
                ("f2", "firing", 9),
                ("f3", "resolved", 20),
            )
        )
    async with sessions() as session:
        stored_groups = {g.id: g for g in await session.scalars(select(AlertGroup))}
        stored_alerts = {a.fingerprint: a for a in await session.scalars(select(Alert))}
    await engine.dispose()
    api = groups[0]
    writer = Writer(target)
    try:
        found = await writer.read(
            reads.round_read(
                {("alertmanager", "api")}, {"f1", "f3", "elsewhere"}, NOW - timedelta(minutes=1)
            )
        )
        assert [g.id for g in found.groups] == [api.id]  # not grafana's group of the same key
        assert _columns(found.groups[0], AlertGroup) == _columns(stored_groups[api.id], AlertGroup)
        assert sorted(a.fingerprint for a in found.alerts) == ["f1", "f3"]
        for alert in found.alerts:
            assert _columns(alert, Alert) == _columns(stored_alerts[alert.fingerprint], Alert)
        assert found.incidents == {
            resolved.id: reads.BoundIncident(
                resolved.id, "resolved", "9001", NOW - timedelta(hours=1)
            )
        }
        # Grafana's group, new in the window; api and db, older, opening again; not the
        # digest's.
        assert found.opened_in_window == 3

        firing = await writer.read(reads.firing_alerts(api.id))
        assert [a.fingerprint for a in firing] == ["f2", "f1"]  # oldest first

        picked = await writer.read(reads.next_opening([], NOW))
        assert picked.group is not None and picked.group.id == api.id
        assert picked.first_start == NOW - timedelta(minutes=20)
        assert picked.previous_key == "alert:alertmanager:api:1"
        waiting = await writer.read(reads.next_opening([api.id], NOW))
        assert waiting.group is None and waiting.retry_at == NOW + timedelta(minutes=5)
    finally:
        await writer.close()
