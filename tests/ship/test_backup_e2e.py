"""`db backup` while the real bot takes alerts in the sandbox: every acknowledged alert is in the copy."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.backup import backup, restore, verify
from tests.e2e.conftest import *  # noqa: F403
from tests.e2e.helpers import ALWAYS_ON_CALL

ALERTS = 12


@pytest.fixture
def overlay() -> dict[str, Any]:
    return {**ALWAYS_ON_CALL, "alerts": {"storm_limit": 1000, "open_every": "10ms"}}


def notification_ids(path: Path) -> set[int]:
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM alert_notifications")}


async def test_backups_taken_while_the_bot_opens_incidents_hold_every_acknowledged_alert(
    bot: Any, control: Any, tmp_path: Path
) -> None:
    hook = (await control.world(refresh=True))["webhook"]
    database = bot.settings.database_path
    acknowledged: list[int] = []
    done = asyncio.Event()

    async def sender() -> None:
        headers = {"Authorization": f"Bearer {hook['bearer_token']}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            for n in range(ALERTS):
                body = {
                    "event_action": "trigger",
                    "dedup_key": f"backup-{n}",
                    "payload": {
                        "summary": f"Disk full on db-{n}",
                        "source": f"db-{n}",
                        "severity": "error",
                    },
                }
                async with http.post(f"{hook['base_url']}/alerts/generic", json=body) as answer:
                    assert answer.status == 202
                    acknowledged.append((await answer.json(content_type=None))["id"])
        done.set()

    sending = asyncio.create_task(sender())
    copies = 0
    while not done.is_set() or copies < 2:
        before = set(acknowledged)
        copy = await asyncio.to_thread(backup, database, tmp_path / f"copy-{copies}.sqlite3")
        assert before <= notification_ids(copy.path)  # a 202 before the backup: in it
        copies += 1
    await sending

    await control.wait_for(
        lambda: verify(database).incidents == ALERTS, timeout=60, what="an incident per alert"
    )
    final = await asyncio.to_thread(backup, database, tmp_path / "final.sqlite3")
    assert final.incidents == ALERTS
    assert notification_ids(final.path) == set(acknowledged)

    scratch = tmp_path / "scratch" / "incident-bot.sqlite3"  # how the guide says to check one
    restored, kept = restore(final.path, scratch)
    assert kept is None
    assert (restored.incidents, restored.revision) == (ALERTS, final.revision)
