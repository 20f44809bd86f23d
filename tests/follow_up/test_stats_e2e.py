"""Done when (item 5): the stats count the incident, on ``/incident stats`` and ``/metrics``."""

from __future__ import annotations

import aiohttp
import pytest

from tests.e2e.helpers import text_of
from tests.postmortem.helpers import OVERLAY, declare


@pytest.fixture
def overlay():
    return OVERLAY


async def test_the_stats_count_the_incident_and_its_items(bot, control):
    channel = await declare(control, "Site down", "P1")
    alice = await control.user_id("alice")
    await control.command(alice, channel, "incident", "ack")
    await control.command(alice, channel, "incident", "resolve")
    await control.command(
        alice, channel, "followup", "add", action="Alert sooner", owner=alice, due="+3d"
    )
    answer = text_of(await control.command(alice, channel, "incident", "stats", period="7d"))
    lines = answer.splitlines()
    assert lines[0] == "**Incidents in the last 7d**: 1"
    assert lines[1] == "P1: 1"
    assert lines[2].startswith("Time to detect: mean ") and lines[2].endswith("(1 incident)")
    assert lines[3].startswith("Time to acknowledge: mean ")
    assert lines[4] == "Time to mitigate: no incident measured"  # resolved, never mitigated
    assert lines[5].startswith("Time to resolve: mean ")
    assert lines[6] == "Postmortems on time: 0 of 0 due"  # its 48 h have not passed
    assert lines[7] == "Action items (every incident): 1 open, 0 overdue"
    bad = text_of(await control.command(alice, channel, "incident", "stats", period="lately"))
    assert bad.startswith("I can't read `lately` as a period")

    world = await control.world(refresh=True)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{world['webhook']['base_url']}/metrics") as response:
            assert response.status == 200
            metrics = await response.text()
    assert 'incident_bot_incidents_30d{severity="P1"} 1.0' in metrics
    assert 'incident_bot_action_items{state="open"} 1.0' in metrics
    assert 'incident_bot_time_to_seconds_mean_30d{measure="resolve"}' in metrics
