"""The storage layer on a real PostgreSQL server: the same migrations, queries and writer."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import URL, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.alerts.store import NotificationStore
from bot.alerts.writer import Writer
from bot.core.clock import ManualClock
from bot.core.outbox import EffectState, Outbox
from storage import outbox as outbox_queries
from storage import transcript
from storage.db import (
    SchemaTooNew,
    current_revision,
    head_revision,
    make_engine,
    upgrade,
)
from storage.models import Incident, TranscriptMessage
from tests.pg.cluster import PASSWORD


def _schema(target: Path | URL) -> dict[str, tuple[set[Any], ...]]:
    """Each table's columns and index names, through a synchronous inspector."""

    async def read() -> dict[str, tuple[set[Any], ...]]:
        engine = make_engine(target)
        try:
            async with engine.connect() as connection:

                def look(sync):  # type: ignore[no-untyped-def]
                    found = inspect(sync)
                    return {
                        table: (
                            {c["name"] for c in found.get_columns(table)},
                            # PostgreSQL lists a unique constraint's own index too
                            {
                                i["name"]
                                for i in found.get_indexes(table)
                                if "duplicates_constraint" not in i
                            },
                            {tuple(u["column_names"]) for u in found.get_unique_constraints(table)},
                            {
                                tuple(f["constrained_columns"])
                                for f in found.get_foreign_keys(table)
                            },
                        )
                        for table in found.get_table_names()
                    }

                return await connection.run_sync(look)
        finally:
            await engine.dispose()

    result: dict[str, tuple[set[Any], ...]] = {}
    thread = threading.Thread(target=lambda: result.update(asyncio.run(read())))
    thread.start()
    thread.join()
    return result


def test_the_same_migrations_build_the_same_tables_columns_and_indexes(pg_url, tmp_path):
    sqlite = tmp_path / "bot.sqlite3"
    upgrade(sqlite)
    upgrade(pg_url)
    assert current_revision(pg_url) == current_revision(sqlite) == head_revision() == "0007_lease"
    assert _schema(pg_url) == _schema(sqlite)


def test_replicas_started_at_the_same_instant_migrate_once(pg_url):
    """Separate processes, as replicas are (alembic's context is one per process)."""
    script = "import sys; from sqlalchemy import make_url; from storage.db import upgrade; "
    script += "upgrade(make_url(sys.argv[1]))"
    url = pg_url.render_as_string(hide_password=False)
    started = [
        subprocess.Popen([sys.executable, "-c", script, url], stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outcomes = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in started]
    assert outcomes == [(0, "")] * 3
    assert current_revision(pg_url) == head_revision()


def test_a_replica_on_an_older_migration_refuses_to_start_and_says_why(pg_migrated, tmp_path):
    async def bump() -> None:
        engine = make_engine(pg_migrated)
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))
        await engine.dispose()

    thread = threading.Thread(target=lambda: asyncio.run(bump()))
    thread.start()
    thread.join()
    with pytest.raises(SchemaTooNew, match=r"0099_future, newer than this bot knows") as refused:
        upgrade(pg_migrated)
    assert PASSWORD not in str(refused.value)  # the URL is named without its password
    assert current_revision(pg_migrated) == "0099_future"  # nothing was changed


async def test_moments_keep_their_zone_and_microseconds(
    pg_sessions: async_sessionmaker[AsyncSession],
):
    moment = datetime(2026, 12, 2, 5, 30, 1, 123456, tzinfo=UTC)
    async with pg_sessions.begin() as session:
        incident = Incident(
            title="db down", slug="db-down", severity="P1", status="declared",
            request_key="k-1", declared_at=moment,
        )  # fmt: skip
        session.add(incident)
    async with pg_sessions() as session:
        found = await session.scalar(select(Incident.declared_at))
    assert found == moment


async def test_an_outbox_effect_runs_once_on_postgres(pg_sessions):
    box = Outbox(pg_sessions, ManualClock())
    async with pg_sessions.begin() as session:
        entry = box.add(session, "page", "page:1:1", {"to": "alice"})
    calls = []

    async def effect(claimed):  # type: ignore[no-untyped-def]
        calls.append(claimed.payload["to"])
        return {"message_id": "42"}

    await asyncio.gather(box.deliver(entry.id, effect), box.deliver(entry.id, effect))
    assert calls == ["alice"]
    async with pg_sessions() as session:
        row = await outbox_queries.get(session, entry.id)
    assert row is not None and row.state == EffectState.DONE and row.attempts == 1


async def test_the_alert_writer_commits_each_notification_with_its_own_id(pg_migrated):
    writer = Writer(pg_migrated)
    store = NotificationStore(writer)
    bodies = [f'{{"n": {n}}}' for n in range(200)]
    ids = await asyncio.gather(*(store.add("generic", body) for body in bodies))
    assert len(set(ids)) == 200
    assert await store.pending() == 200
    replayed = await store.add("generic", '{"n": 0}', replay_key="sig-1")
    again = await store.add("generic", '{"n": 0}', replay_key="sig-1")
    assert again == replayed and await store.pending() == 201
    await store.close()
    engine = make_engine(pg_migrated)
    async with engine.connect() as connection:
        stored = dict(
            (await connection.execute(text("SELECT id, body FROM alert_notifications"))).all()
        )
    await engine.dispose()
    assert [stored[i] for i in ids] == bodies
    await writer.close()


async def test_two_writers_at_once_like_two_replicas_lose_nothing(pg_migrated):
    writers = [Writer(pg_migrated), Writer(pg_migrated)]
    stores = [NotificationStore(w) for w in writers]
    ids = await asyncio.gather(*(stores[n % 2].add("generic", f'{{"n": {n}}}') for n in range(300)))
    assert len(set(ids)) == 300
    for store, writer in zip(stores, writers, strict=True):
        await store.close()
        await writer.close()


async def test_a_transcript_message_stored_twice_is_kept_once_with_its_latest_edit(pg_sessions):
    """The upsert was SQLite's own construct; PostgreSQL has its own ON CONFLICT."""
    moment = datetime(2026, 12, 2, 5, 0, tzinfo=UTC)
    async with pg_sessions.begin() as session:
        session.add(
            Incident(title="t", slug="t", severity="P2", status="declared", declared_at=moment)
        )

    def message(content: str, edited: datetime | None) -> transcript.Captured:
        return transcript.Captured(
            message_id=7, incident_id=1, channel_id="c", thread_id=None, author_id="a",
            author_name="alice", is_bot=False, content=content, attachments=(),
            created_at=moment, edited_at=edited,
        )  # fmt: skip

    async with pg_sessions.begin() as session:
        await transcript.store(session, [message("first", None)])
    async with pg_sessions.begin() as session:
        await transcript.store(session, [message("edited", moment)])
    async with pg_sessions() as session:
        kept = list(await session.scalars(select(TranscriptMessage.content)))
    assert kept == ["edited"]
