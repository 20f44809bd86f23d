"""After a restart, what keeps people safe runs before the bookkeeping.

Start-up brings every open incident's comms up to date (its #ops-alerts post edited to
the latest state): one Discord call per open incident, paced by the channel's rate
limit, so tens of seconds with hundreds open. The alert worker and the chain watch do
not wait for that: an alert that arrives meanwhile opens its incident and pings its
commander. (Found by the restart bench: /healthz said "worker: starting" for 24 s after
a kill -9 with 400 open incidents.)
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from bot.runtime import BotRuntime
from tests.e2e.conftest import bot_settings
from tests.e2e.helpers import ALWAYS_ON_CALL, healthz
from tests.e2e.test_alerts import Webhook, channel_ending, payload


@pytest.fixture
def overlay():
    return {**ALWAYS_ON_CALL, "alerts": {"open_every": "50ms"}}


async def test_an_alert_opens_its_incident_while_start_up_still_reconciles_comms(bot, control):
    erin = await control.user_id("erin")
    general, ops = await control.channel_id("general"), await control.channel_id("ops-alerts")
    await control.command(erin, general, "incident", "declare", title="Old outage", severity="P2")

    async def announced():
        return any("Old outage" in str(m["embeds"]) for m in await control.messages(ops))

    await control.wait_for(announced, what="the P2's #ops-alerts post")
    await bot.stop()
    # The reconcile's edit of that post waits at Discord until released.
    await control.fault("hold", count=1, method="PATCH", path_pattern=rf"^/channels/{ops}/")
    bot.runtime = BotRuntime(
        bot_settings(bot.world, bot.data_dir, bot.overlay, bot.database), clock=bot.clock
    )
    await bot.runtime.start()
    try:

        async def reconciling():
            return any(not h["released"] for h in await control.holds())

        await control.wait_for(reconciling, timeout=20, what="start-up's edit of the ops post")
        async with aiohttp.ClientSession() as http:
            webhook = Webhook(await control.world(refresh=True), http)
            status, _ = await webhook.post(
                "alertmanager", payload("alertmanager_probe_failure.json")
            )
        assert status == 202
        channel = await channel_ending(control, "-blackbox-probe-failure-https-server-example-org")
        alice = await control.user_id("alice")
        await control.wait_for_message(
            channel["id"], lambda m: f"<@{alice}>" in m["content"], what="the commander's ping"
        )
        assert (await healthz(bot.world))[1]["worker"] == "running"
        assert await reconciling(), "the reconcile was still held: the alert did not wait on it"
    finally:
        await control.release()
    await asyncio.wait_for(bot.runtime.wait_ready(timeout=20), 30)
