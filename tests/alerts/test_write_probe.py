"""A full disk reads fine: after a failed commit the writer probes with a write, so /healthz
says ``database: writes failing`` until writes work again (the disk drill saw ``ok``)."""

from __future__ import annotations

import sqlite3

import pytest

from bot.alerts import writer as writer_module
from bot.alerts.writer import Writer
from storage.db import upgrade


def full(_connection: sqlite3.Connection) -> None:
    raise sqlite3.OperationalError("database or disk is full")


async def test_a_failed_commit_fails_the_check_until_a_probe_write_succeeds(tmp_path, monkeypatch):
    path = tmp_path / "probe.sqlite3"
    upgrade(path)
    writer = Writer(path)
    try:
        assert await writer.writes_fail() is None  # nothing failed: no probe either
        with pytest.raises(sqlite3.OperationalError):
            await writer.run(full)
        monkeypatch.setattr(writer_module, "_probe", full)  # the disk is still full
        failing = await writer.writes_fail()
        assert failing is not None and "disk is full" in failing
        monkeypatch.undo()  # freed: the probe's write goes through
        assert await writer.writes_fail() is None
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    finally:
        await writer.close()
