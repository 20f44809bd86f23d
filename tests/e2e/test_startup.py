"""Start-up keeps people safe first: a failing Discord call does not stop the timers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.clock import ManualClock
from tests.e2e.conftest import BotHandle
from tests.e2e.helpers import incident_channel_id


@pytest.fixture
def overlay():
    return {
        "rotation": {
            "shifts": [
                # A gap in 2020, so the bot has a warning to post to #ops-alerts at start.
                {
                    "start": "2020-01-01T00:00+00:00",
                    "end": "2020-02-01T00:00+00:00",
                    "primary": "@alice",
                },
                {
                    "start": "2020-02-02T00:00+00:00",
                    "end": "2099-01-01T00:00+00:00",
                    "primary": "@alice",
                    "secondary": "@bob",
                },
            ]
        },
        "procedure": {"severities": {"P1": {"escalate_after": "1s"}}},
    }


async def test_an_ops_alerts_outage_at_start_does_not_stop_escalations(
    world, control, tmp_path, overlay
):
    ops = await control.channel_id("ops-alerts")
    await control.fault("server_error", count=5, path_prefix=f"/api/v10/channels/{ops}/messages")
    clock = ManualClock()
    handle = BotHandle(world, tmp_path / "bot-data", overlay, clock)
    await handle.start()
    try:
        general = await control.channel_id("general")
        await control.command(
            await control.user_id("erin"),
            general,
            "incident",
            "declare",
            title="Cold start",
            severity="P1",
        )
        channel = await incident_channel_id(control, "-cold-start")
        bob = await control.user_id("bob")
        clock.advance(timedelta(seconds=1))  # P1 escalates after 1 s here
        await control.wait_for_message(
            channel, lambda m: f"<@{bob}>" in m["content"], timeout=8, what="the page"
        )
    finally:
        await handle.stop()
