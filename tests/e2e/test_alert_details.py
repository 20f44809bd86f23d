"""What an alert says reaches the people reading its incident (issue 12, item 7): the
alert's labels, when it started (the channel's date too), every firing alert of the
group, those that came while it sat in a storm digest included, and when each ended."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from tests.e2e import test_alerts as alerts
from tests.e2e.helpers import sql
from tests.e2e.test_alerts import (
    channel_ending,
    incident_channels,
    payload,
    resolved,
    rows,
    settled,
    storm_body,
)

overlay = alerts.overlay  # the alert tests' fixtures: a short storm window, fast pacing
webhook = alerts.webhook


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


async def test_the_opening_note_shows_labels_and_start_and_the_channel_is_dated_by_the_start(
    bot, control, webhook
):
    started = (datetime.now(UTC) - timedelta(hours=26)).replace(microsecond=0)
    body = payload("alertmanager_probe_failure.json")
    body["alerts"][0]["startsAt"] = _iso(started)
    assert (await webhook.post("alertmanager", body))[0] == 202
    channel = await channel_ending(control, "-blackbox-probe-failure-https-server-example-org")
    day = started.astimezone(bot.settings.config.zone).date().isoformat()
    assert channel["name"].startswith(f"incident-{day}-")
    kickoff = await control.wait_for_message(channel["id"], lambda m: m["pinned"], what="kickoff")
    epoch = int(started.timestamp())
    assert f"the alert started firing at <t:{epoch}:f>" in kickoff["embeds"][0]["description"]
    details = await control.wait_for_message(
        channel["id"], lambda m: "Opened by alertmanager" in m["content"], what="alert details"
    )
    text = details["content"]
    assert f"started <t:{epoch}:f>" in text
    for label in (
        "`instance=https://server.example.org`",
        "`job=http_checks`",
        "`monitor=master`",
        "`severity=critical`",
    ):
        assert label in text
    assert "`alertname=" not in text  # it is the alert's name, shown already


async def test_a_resolution_note_shows_when_each_alert_ended(bot, control, webhook):
    body = payload("alertmanager_probe_failure.json")
    await webhook.post("alertmanager", body)
    channel = await channel_ending(control, "-blackbox-probe-failure-https-server-example-org")
    done = resolved(body)
    ended = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
    note = await _post_and_wait(webhook, control, channel["id"], done, "resolved at the source")
    assert f"(ended <t:{int(ended.timestamp())}:f>)" in note["content"]


async def _post_and_wait(webhook, control, channel_id, body, marker):
    assert (await webhook.post("alertmanager", body))[0] == 202
    return await control.wait_for_message(channel_id, lambda m: marker in m["content"], what=marker)


async def test_a_group_opened_after_a_storm_lists_the_alerts_that_came_during_the_storm(
    bot, control, webhook
):
    bodies = []
    for number in range(4):
        body = storm_body(number)
        body["alerts"][0]["labels"]["instance"] = f"first-{number}"
        bodies.append(body)
        assert (await webhook.post("alertmanager", body))[0] == 202
    await settled(control, bot)
    assert len(await incident_channels(control)) == 3  # alerts.storm_limit; one in the digest
    assert rows(bot, "SELECT state FROM alert_groups WHERE id = 4") == [("digest",)]

    during = copy.deepcopy(bodies[3])
    during["alerts"][0].update(fingerprint="during0000000001")
    during["alerts"][0]["labels"]["instance"] = "during-the-storm"
    assert (await webhook.post("alertmanager", during))[0] == 202
    await settled(control, bot)
    assert len(await incident_channels(control)) == 3  # still in the storm

    hour_ago = datetime.now(UTC) - timedelta(hours=1)  # the storm is an hour old
    await sql(bot, "UPDATE alert_groups SET first_seen = ?", hour_ago)
    await sql(bot, "UPDATE incidents SET declared_at = ?", hour_ago)
    after = copy.deepcopy(bodies[3])
    after["alerts"][0].update(fingerprint="after00000000001")
    after["alerts"][0]["labels"]["instance"] = "after-the-storm"
    assert (await webhook.post("alertmanager", after))[0] == 202
    await settled(control, bot)
    [(channel_id,)] = rows(
        bot,
        "SELECT i.channel_id FROM incidents i JOIN alert_groups g ON g.incident_id = i.id "
        "WHERE g.id = 4",
    )
    opened = next(
        m["content"]
        for m in await control.messages(channel_id)
        if "Opened by alertmanager" in m["content"]
    )
    assert "3 alerts firing in this group" in opened
    for instance in ("first-3", "during-the-storm", "after-the-storm"):
        assert f"`instance={instance}`" in opened
