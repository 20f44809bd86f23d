"""The ``audit`` table (migration 0007_audit): what the bot writes is what it reads back,
and the migration goes down as cleanly as it comes up."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from alembic import command

from bot.core.clock import ManualClock
from bot.core.permissions import record_refusal
from storage.audit import refusals
from storage.db import alembic_config, current_revision, make_engine, make_sessions, upgrade


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as raw:
        return {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}


async def test_a_refusal_outside_any_incident_is_recorded_with_no_incident(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    upgrade(path)
    engine = make_engine(path)
    try:
        sessions = make_sessions(engine)
        clock = ManualClock(datetime(2026, 12, 2, 6, 0, tzinfo=UTC))
        await record_refusal(sessions, clock, "42", "/oncall swap", "Only … may swap.", "7")
        async with sessions() as session:
            [row] = await refusals(session)
        assert (row.at, row.user_id, row.action, row.channel_id, row.incident_id) == (
            clock.now(),
            "42",
            "/oncall swap",
            "7",
            None,
        )
    finally:
        await engine.dispose()


def test_the_audit_migration_goes_down_and_up_again(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    upgrade(path)
    assert "audit" in _tables(path)
    command.downgrade(alembic_config(path), "0007_watch2")
    assert current_revision(path) == "0007_watch2" and "audit" not in _tables(path)
    upgrade(path)
    assert "audit" in _tables(path)
