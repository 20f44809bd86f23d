"""Group commit: requests that arrive together share a transaction, and each id means on disk."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from bot.alerts.store import NotificationStore, StoreUnavailable
from bot.alerts.writer import Writer
from storage.db import upgrade


@pytest.fixture
def path(tmp_path):
    path = tmp_path / "store.sqlite3"
    upgrade(path)
    return path


@pytest.fixture
async def writer(path):
    writer = Writer(path)
    yield writer
    await writer.close()


async def test_concurrent_notifications_are_all_committed_each_with_its_own_id(writer, path):
    woken = []
    store = NotificationStore(writer, on_stored=lambda: woken.append(1))
    bodies = [f'{{"n": {n}}}' for n in range(300)]
    ids = await asyncio.gather(*(store.add("generic", body) for body in bodies))
    with sqlite3.connect(path) as db:
        stored = dict(db.execute("SELECT id, body FROM alert_notifications").fetchall())
    assert sorted(ids) == sorted(stored)
    assert [stored[i] for i in ids] == bodies  # each caller got the id of its own row
    assert 1 <= len(woken) < 300  # fewer commits than requests
    await store.close()


async def test_after_close_nothing_more_is_taken(writer):
    store = NotificationStore(writer)
    await store.add("generic", "{}")
    await store.close()
    with pytest.raises(StoreUnavailable):
        await store.add("generic", "{}")
    assert await store.pending() == 1


async def test_the_writer_syncs_every_commit_so_a_2xx_survives_an_os_crash(writer):
    # In WAL, NORMAL (1) survives a process crash but not an OS crash or power loss;
    # FULL (2) syncs the WAL at every commit, which the group commit shares out.
    def pragmas(connection: sqlite3.Connection) -> tuple[str, int]:
        mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
        return mode, connection.execute("PRAGMA synchronous").fetchone()[0]

    assert await writer.read(pragmas) == ("wal", 2)


async def test_replays_in_one_batch_are_one_row_and_get_its_id(writer, path):
    store = NotificationStore(writer)
    ids = await asyncio.gather(
        store.add("grafana", '{"n": 1}', "key-a"),
        *(store.add("grafana", '{"n": 1}', "key-a") for _ in range(9)),
        store.add("grafana", '{"n": 2}', "key-b"),
        store.add("grafana", '{"n": 3}'),  # unsigned: no replay key, always stored
        store.add("grafana", '{"n": 3}'),
    )
    with sqlite3.connect(path) as db:
        stored = dict(db.execute("SELECT id, body FROM alert_notifications").fetchall())
    assert len(stored) == 4
    assert len(set(ids[:10])) == 1 and stored[ids[0]] == '{"n": 1}'
    assert stored[ids[10]] == '{"n": 2}'
    assert ids[11] != ids[12]
    await store.close()
