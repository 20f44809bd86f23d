"""Alert webhooks end to end: real payloads at the sandbox's webhook URL, the real bot in the world.

Payloads come from their senders' documentation (tests/alerts/payloads/README.md).
Waiting is for conditions (a channel, a message, no pending row), never for time.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import logging
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sandbox.control_client import Control
from tests.e2e.helpers import ALWAYS_ON_CALL as ROTATION
from tests.e2e.helpers import sql, sql_now, stored_text

PAYLOADS = Path(__file__).resolve().parents[1] / "alerts" / "payloads"


@pytest.fixture
def overlay():
    return {
        **ROTATION,
        "alerts": {
            "storm_limit": 3,
            "open_every": "50ms",
            "digest_every": "100ms",
            "notes_every": "100ms",
        },
    }


def payload(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / name).read_text())


class Webhook:
    """The sender's side: what Alertmanager, Grafana or a generic tool would post."""

    def __init__(self, world: dict[str, Any], http: aiohttp.ClientSession) -> None:
        hook = world["webhook"]
        self.base_url, self.token, self.secret = (
            hook["base_url"],
            hook["bearer_token"],
            hook["hmac_secret"],
        )
        self.http = http

    async def post(
        self,
        source: str,
        body: dict[str, Any] | bytes,
        *,
        token: str | None = "",
        sign: str | None = None,
        timestamp: str | None = None,
        content_type: str = "application/json",
    ) -> tuple[int, dict[str, Any]]:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": content_type}
        if token == "":
            token = self.token
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if sign is not None:
            signed = raw if timestamp is None else timestamp.encode() + b":" + raw
            headers["X-Grafana-Alerting-Signature"] = hmac.new(
                sign.encode(), signed, hashlib.sha256
            ).hexdigest()
            if timestamp is not None:
                headers["X-Grafana-Alerting-Timestamp"] = timestamp
        async with self.http.post(
            f"{self.base_url}/alerts/{source}", data=raw, headers=headers
        ) as response:
            return response.status, await response.json(content_type=None)

    async def get(self, path: str) -> tuple[int, str]:
        async with self.http.get(f"{self.base_url}{path}") as response:
            return response.status, await response.text()


@pytest.fixture
async def webhook(bot, control):
    async with aiohttp.ClientSession() as http:
        yield Webhook(await control.world(refresh=True), http)


def rows(bot, query: str, *args: Any) -> list[tuple]:
    return sql_now(bot, query, *args)


async def settled(control: Control, bot) -> None:
    """Every stored notification applied, every group opened or listed, every note posted."""

    def probe() -> bool:
        return not rows(
            bot,
            "SELECT 1 FROM alert_notifications WHERE state = 'pending' UNION ALL "
            "SELECT 1 FROM alert_groups WHERE state = 'opening' UNION ALL "
            "SELECT 1 FROM alert_groups WHERE state = 'open' AND json_array_length(notes) > 0 "
            "UNION ALL SELECT 1 FROM alert_groups WHERE state = 'digest' "
            "AND digest_message_id IS NULL",
        )

    # A bound on waiting, not a speed requirement: opening three incidents (channels,
    # kickoffs, pins, pages at Discord's pace) took over 15 s on a loaded CI machine.
    await control.wait_for(probe, timeout=60, what="the alert worker to settle")


async def incident_channels(control: Control) -> list[dict[str, Any]]:
    world = await control.world(refresh=True)
    return [c for c in world["channels"] if c["type"] == 0 and c["name"].startswith("incident-")]


async def channel_ending(control: Control, suffix: str) -> dict[str, Any]:
    async def probe():
        return next(
            (c for c in await incident_channels(control) if c["name"].endswith(suffix)), None
        )

    return await control.wait_for(probe, timeout=15, what=f"#incident-…{suffix}")


def storm_body(number: int) -> dict[str, Any]:
    """The docs' probe failure as the ``number``-th group of a storm."""
    body = payload("alertmanager_probe_failure.json")
    body["groupKey"] = f'{{}}:{{alertname="Storm{number}"}}'
    body["commonAnnotations"]["summary"] = f"Storm alert number {number}"
    body["alerts"][0]["fingerprint"] = f"storm{number:011d}"
    return body


def resolved(body: dict[str, Any]) -> dict[str, Any]:
    done = copy.deepcopy(body)
    done["status"] = "resolved"
    for alert in done["alerts"]:
        alert["status"] = "resolved"
        alert["endsAt"] = "2026-11-27T14:00:00Z"
    return done


# -- the "done when" --------------------------------------------------------------------
async def test_alertmanager_payload_from_the_docs_opens_a_p1_channel_and_pings_the_commander(
    bot, control, webhook
):
    status, answer = await webhook.post("alertmanager", payload("alertmanager_probe_failure.json"))
    assert status == 202 and answer["status"] == "accepted"
    channel = await channel_ending(control, "-blackbox-probe-failure-https-server-example-org")
    alice = await control.user_id("alice")
    kickoff = await control.wait_for_message(channel["id"], lambda m: m["pinned"], what="kickoff")
    assert f"<@{alice}>" in kickoff["content"]
    assert alice in kickoff["notified_user_ids"]
    assert kickoff["embeds"][0]["title"].startswith("P1 · BlackBox Probe Failure")
    details = await control.wait_for_message(
        channel["id"], lambda m: "Opened by alertmanager" in m["content"], what="alert details"
    )
    assert "ProbeFailure" in details["content"]
    assert "Severity **P1** from the alert's label" in details["content"]


async def test_grafana_payload_signed_with_a_timestamp_opens_its_channel_at_the_default_severity(
    bot, control, webhook
):
    status, _ = await webhook.post(
        "grafana",
        payload("grafana_high_usage.json"),
        token=None,
        sign=webhook.secret,
        timestamp=str(int(time.time())),
    )
    assert status == 202
    channel = await channel_ending(control, "-high-memory-usage-and-1-more")
    kickoff = await control.wait_for_message(channel["id"], lambda m: m["pinned"], what="kickoff")
    assert kickoff["embeds"][0]["title"].startswith("P2 · ")
    note = await control.wait_for_message(
        channel["id"], lambda m: "Opened by grafana" in m["content"], what="alert details"
    )
    assert "no `severity` label" in note["content"] and "default P2" in note["content"]
    assert "High CPU usage" in note["content"]


async def test_the_same_payload_again_opens_nothing_new(bot, control, webhook):
    body = payload("alertmanager_probe_failure.json")
    await webhook.post("alertmanager", body)
    channel = await channel_ending(control, "-blackbox-probe-failure-https-server-example-org")
    for _ in range(3):  # Alertmanager's repeat_interval
        status, _ = await webhook.post("alertmanager", body)
        assert status == 202
    await settled(control, bot)
    assert [c["id"] for c in await incident_channels(control)] == [channel["id"]]
    assert rows(bot, "SELECT count(*) FROM incidents") == [(1,)]
    assert rows(bot, "SELECT fire_count FROM alerts") == [(4,)]
    messages = await control.messages(channel["id"])
    assert not any("New alert" in m["content"] for m in messages)


async def test_a_resolved_notification_is_recorded_and_the_commander_told_but_nothing_closes(
    bot, control, webhook
):
    body = payload("alertmanager_probe_failure.json")
    await webhook.post("alertmanager", body)
    channel = await channel_ending(control, "-blackbox-probe-failure-https-server-example-org")
    status, _ = await webhook.post("alertmanager", resolved(body))
    assert status == 202
    alice = await control.user_id("alice")
    note = await control.wait_for_message(
        channel["id"], lambda m: "resolved at the source" in m["content"], what="the resolution"
    )
    assert f"<@{alice}>" in note["content"]
    assert "Every alert of this group is resolved" in note["content"]
    await settled(control, bot)
    assert rows(bot, "SELECT status FROM incidents") == [("declared",)]
    assert rows(bot, "SELECT count(*) FROM timeline_events WHERE kind = 'alert_resolved'") == [(1,)]


async def test_a_new_alert_in_a_live_group_joins_its_incident(bot, control, webhook):
    body = payload("alertmanager_probe_failure.json")
    await webhook.post("alertmanager", body)
    channel = await channel_ending(control, "-blackbox-probe-failure-https-server-example-org")
    grown = copy.deepcopy(body)
    second = copy.deepcopy(body["alerts"][0])
    second["labels"]["instance"] = "https://backup.example.org"
    second["annotations"]["summary"] = "BlackBox Probe Failure: https://backup.example.org"
    second["fingerprint"] = "2b41cb82ddb3a320"
    grown["alerts"].append(second)
    await webhook.post("alertmanager", grown)
    note = await control.wait_for_message(
        channel["id"], lambda m: "New alert in this group" in m["content"], what="the new alert"
    )
    assert "https://backup.example.org" in note["content"]
    await settled(control, bot)
    assert len(await incident_channels(control)) == 1
    assert rows(bot, "SELECT count(*) FROM timeline_events WHERE kind = 'alert_new'") == [(1,)]


async def test_a_generic_trigger_opens_an_incident_and_its_resolve_is_recorded(
    bot, control, webhook
):
    trigger = {
        "routing_key": "R0UT1NGK3Y0000000000000000000000",
        "event_action": "trigger",
        "dedup_key": "disk-full-db-1",
        "payload": {"summary": "Disk full on db-1", "source": "db-1", "severity": "error"},
    }
    status, _ = await webhook.post("generic", trigger)
    assert status == 202
    channel = await channel_ending(control, "-disk-full-on-db-1")
    kickoff = await control.wait_for_message(channel["id"], lambda m: m["pinned"], what="kickoff")
    assert kickoff["embeds"][0]["title"].startswith("P2 · Disk full on db-1")
    await webhook.post("generic", {"event_action": "resolve", "dedup_key": "disk-full-db-1"})
    await control.wait_for_message(
        channel["id"], lambda m: "resolved at the source" in m["content"], what="the resolution"
    )
    stored = " ".join(body for (body,) in rows(bot, "SELECT body FROM alert_notifications"))
    assert "R0UT1NGK3Y" not in stored  # the sender's routing key is not kept


# -- credentials --------------------------------------------------------------------------------
async def test_bad_credentials_are_401_with_a_reason_and_nothing_is_stored(bot, control, webhook):
    body = payload("alertmanager_probe_failure.json")
    now = int(time.time())
    attempts = [
        dict(token=None),
        dict(token="not-the-token"),
        dict(token=None, sign="not-the-secret"),
        dict(token=None, sign=webhook.secret, timestamp=str(now - 600)),
    ]
    reasons = []
    for attempt in attempts:
        status, answer = await webhook.post("alertmanager", body, **attempt)
        assert status == 401
        reasons.append(answer["error"])
    assert "missing credentials" in reasons[0]
    assert "bearer token is not one of" in reasons[1]
    assert "signature" in reasons[2] and "does not match" in reasons[2]
    assert "600 s old" in reasons[3]
    # The right credentials still work, and only that one request was stored.
    assert (await webhook.post("alertmanager", body))[0] == 202
    assert rows(bot, "SELECT count(*) FROM alert_notifications") == [(1,)]


async def test_no_secret_is_stored_logged_or_posted(bot, control, webhook, caplog):
    caplog.set_level(logging.DEBUG)
    body = payload("grafana_high_usage.json")
    await webhook.post("grafana", body, token=None, sign=webhook.secret)
    await webhook.post("alertmanager", payload("alertmanager_probe_failure.json"))
    await webhook.post("alertmanager", body, token=webhook.token + "x")  # refused, echoed nowhere
    await channel_ending(control, "-blackbox-probe-failure-https-server-example-org")
    await settled(control, bot)
    secrets = [webhook.token, webhook.secret]
    database = stored_text(bot)
    posted = ""
    for channel in (await control.world(refresh=True))["channels"]:
        if channel["type"] == 0:
            posted += repr(await control.messages(channel["id"]))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in secrets:
        assert secret not in database
        assert secret not in posted
        assert secret not in logged


# -- durability ---------------------------------------------------------------------------------
async def test_a_crash_between_store_and_worker_loses_nothing(bot, control, webhook):
    await bot.services.alerts.worker.stop()  # the process dies right after the commit
    status, answer = await webhook.post("alertmanager", payload("alertmanager_probe_failure.json"))
    assert status == 202
    assert rows(bot, "SELECT id, state FROM alert_notifications") == [(answer["id"], "pending")]
    assert await incident_channels(control) == []
    await bot.restart()
    await channel_ending(control, "-blackbox-probe-failure-https-server-example-org")
    await settled(control, bot)
    assert rows(bot, "SELECT state FROM alert_notifications") == [("done",)]
    assert len(await incident_channels(control)) == 1


# -- storms -------------------------------------------------------------------------------------
async def test_a_storm_opens_storm_limit_channels_and_digests_the_rest_in_ops_alerts(
    bot, control, webhook
):
    for number in range(8):
        body = storm_body(number)
        for _ in range(3):
            assert (await webhook.post("alertmanager", body))[0] == 202
    await settled(control, bot)
    channels = await incident_channels(control)
    assert len(channels) == 3  # alerts.storm_limit
    assert len({c["name"] for c in channels}) == 3
    ops = await control.channel_id("ops-alerts")
    digest = "\n".join(
        m["content"] for m in await control.messages(ops) if "Storm alert number" in m["content"]
    )
    assert "Alert storm" in digest
    listed = [n for n in range(8) if f"Storm alert number {n}" in digest]
    assert len(listed) == 5
    assert rows(bot, "SELECT count(*) FROM alert_groups") == [(8,)]
    assert rows(bot, "SELECT count(*) FROM incidents") == [(3,)]


async def test_a_group_listed_in_a_storm_digest_opens_when_it_fires_anew_after_the_storm(
    bot, control, webhook
):
    bodies = []
    for number in range(5):
        body = storm_body(number)
        bodies.append(body)
        assert (await webhook.post("alertmanager", body))[0] == 202
    await settled(control, bot)
    assert len(await incident_channels(control)) == 3  # alerts.storm_limit; 2 in the digest
    again = copy.deepcopy(bodies[4])
    again["alerts"][0]["fingerprint"] = "brandnew0000001"
    again["alerts"][0]["startsAt"] = "2026-11-27T13:00:00Z"

    # Still in the storm: the group stays a digest entry.
    assert (await webhook.post("alertmanager", again))[0] == 202
    await settled(control, bot)
    assert len(await incident_channels(control)) == 3
    assert rows(bot, "SELECT state FROM alert_groups WHERE id = 5") == [("digest",)]

    # An hour later the storm is long over; a new alert of the digested group opens it.
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    await sql(bot, "UPDATE alert_groups SET first_seen = ?", hour_ago)
    await sql(bot, "UPDATE incidents SET declared_at = ?", hour_ago)
    again["alerts"][0]["fingerprint"] = "brandnew0000002"
    assert (await webhook.post("alertmanager", again))[0] == 202
    await settled(control, bot)
    channels = await incident_channels(control)
    assert len(channels) == 4
    assert rows(bot, "SELECT state, incident_id FROM alert_groups WHERE id = 5") == [("open", 4)]
    assert rows(bot, "SELECT state FROM alert_groups WHERE id = 4") == [("digest",)]
    [(channel_id,)] = rows(bot, "SELECT channel_id FROM incidents WHERE id = 4")
    posted = "\n".join(m["content"] for m in await control.messages(channel_id))
    assert "Opened by alertmanager" in posted and "Storm alert number 4" in posted
    # A repeat of the same notification opens nothing more.
    assert (await webhook.post("alertmanager", again))[0] == 202
    await settled(control, bot)
    assert len(await incident_channels(control)) == 4


# -- health and metrics -------------------------------------------------------------------------
async def test_healthz_and_metrics_report_the_database_the_gateway_and_the_counts(
    bot, control, webhook
):
    await webhook.post("alertmanager", payload("alertmanager_probe_failure.json"))
    await webhook.post("alertmanager", b"{", token="wrong")
    await channel_ending(control, "-blackbox-probe-failure-https-server-example-org")
    await settled(control, bot)
    status, text = await webhook.get("/healthz")
    health = json.loads(text)
    assert status == 200
    assert health["database"] == "ok" and health["gateway"] == "connected"
    assert health["pending_notifications"] == 0
    status, metrics = await webhook.get("/metrics")
    assert status == 200
    assert (
        'incident_bot_alerts_received_total{outcome="accepted",source="alertmanager"} 1.0'
        in metrics
    )
    assert (
        'incident_bot_alerts_received_total{outcome="unauthorized",source="alertmanager"} 1.0'
        in metrics
    )
    assert 'incident_bot_incidents_opened_total{source="alert"} 1.0' in metrics
    assert "incident_bot_open_incidents 1.0" in metrics
    assert 'incident_bot_discord_request_seconds_count{method="POST",route="channels"' in metrics


async def test_healthz_is_503_naming_the_part_that_fails(bot, control, webhook, monkeypatch):
    status, text = await webhook.get("/healthz")
    assert status == 200 and json.loads(text)["failing"] == []
    client = bot.runtime.bot

    monkeypatch.setattr(client, "is_ready", lambda: False)  # the gateway is down, reconnecting
    status, text = await webhook.get("/healthz")
    assert status == 503
    assert json.loads(text)["failing"] == ["gateway"]
    assert json.loads(text)["gateway"] == "connecting"
    monkeypatch.undo()

    async def unreachable() -> int:
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(bot.services.alerts.store, "pending", unreachable)
    status, text = await webhook.get("/healthz")
    assert status == 503 and json.loads(text)["failing"] == ["database"]
    assert json.loads(text)["database"] == "unavailable (OperationalError)"
    monkeypatch.undo()

    await bot.services.alerts.worker.stop()
    status, text = await webhook.get("/healthz")
    health = json.loads(text)
    assert status == 503
    assert health["failing"] == ["worker"] and health["worker"] == "stopped"
    assert health["status"] == "unavailable"


async def test_an_alert_firing_again_after_a_person_resolved_it_opens_a_new_incident(
    bot, control, webhook
):
    # As PagerDuty and incident.io do: the resolved incident stays as people left it (a
    # machine never reopens it) and the recurrence gets an incident, and a channel, of its own.
    body = payload("alertmanager_probe_failure.json")
    await webhook.post("alertmanager", body)
    channel = await channel_ending(control, "-blackbox-probe-failure-https-server-example-org")
    await webhook.post("alertmanager", resolved(body))
    await control.wait_for_message(
        channel["id"], lambda m: "resolved at the source" in m["content"], what="the resolution"
    )
    alice = await control.user_id("alice")
    await control.command(alice, channel["id"], "incident", "resolve", note="probe fixed")
    await control.wait_for(
        lambda: rows(bot, "SELECT 1 FROM incidents WHERE status = 'resolved'"), what="resolved"
    )
    await webhook.post("alertmanager", body)  # the same alert fires again
    await settled(control, bot)
    channels = await incident_channels(control)
    assert len(channels) == 2
    [new] = [c for c in channels if c["id"] != channel["id"]]
    note = await control.wait_for_message(
        new["id"], lambda m: "Recurred" in m["content"], what="the recurrence note"
    )
    assert f"<#{channel['id']}>" in note["content"]  # the previous incident's channel
    key = '{}/{severity="critical"}:{alertname="ProbeFailure"}'
    assert rows(bot, "SELECT status, request_key FROM incidents ORDER BY id") == [
        ("resolved", f"alert:alertmanager:{key}"),
        ("declared", f"alert:alertmanager:{key}:1"),
    ]
    assert not [m for m in await control.messages(channel["id"]) if "firing again" in m["content"]]
    assert rows(bot, "SELECT state, incident_id FROM alert_groups") == [("open", 2)]
    assert rows(bot, "SELECT status, fire_count FROM alerts") == [("firing", 2)]

    # Sent again (repeat_interval), it only counts: the new incident is live.
    await webhook.post("alertmanager", body)
    await settled(control, bot)
    assert len(await incident_channels(control)) == 2
    assert rows(bot, "SELECT status, fire_count FROM alerts") == [("firing", 3)]
    timeline = rows(bot, "SELECT text FROM timeline_events WHERE incident_id = 2")
    assert any("recurred after incident #1 was resolved" in t for (t,) in timeline)

    # Resolved a second time, it recurs as the group's third incident.
    await webhook.post("alertmanager", resolved(body))
    await settled(control, bot)
    await control.command(alice, new["id"], "incident", "resolve", note="again")
    await control.wait_for(
        lambda: rows(bot, "SELECT 1 FROM incidents WHERE id = 2 AND status = 'resolved'"),
        what="second resolution",
    )
    await webhook.post("alertmanager", body)
    await settled(control, bot)
    assert len(await incident_channels(control)) == 3
    assert rows(bot, "SELECT request_key FROM incidents WHERE id = 3") == [
        (f"alert:alertmanager:{key}:2",)
    ]


# -- text from outside ----------------------------------------------------------------------------
async def test_alert_text_is_posted_inert_no_mention_no_masked_link_no_bidi(bot, control, webhook):
    world = await control.world(refresh=True)
    carol = next(u["id"] for u in world["users"] if u["name"] not in ("alice", "bob"))
    signers = next(r["id"] for r in world["roles"] if r["name"] == "multisig-signer")
    evil = "http://evil.example/steal"
    base = payload("alertmanager_probe_failure.json")
    for number in range(4):  # alerts.storm_limit is 3: three channels and a digest entry
        body = copy.deepcopy(base)
        body["groupKey"] = f'{{}}:{{alertname="Evil{number}"}}'
        body["commonAnnotations"]["summary"] = (
            f"Pay [here]({evil}) @everyone <@&{signers}> **now** \u202egnp.exe\u0000 {number}"
        )
        body["commonAnnotations"]["description"] = f"# Heading <@{carol}> @here [docs]({evil})"
        body["externalURL"] = f"{evil}> @everyone <x"
        alert = body["alerts"][0]
        alert["fingerprint"] = f"evil{number:012d}"
        alert["labels"]["alertname"] = f"Probe__{number}__ <@{carol}>"
        alert["annotations"]["summary"] = f"see [the runbook]({evil}) <@{carol}>"
        alert["generatorURL"] = f"{evil})[x]({evil}"
        assert (await webhook.post("alertmanager", body))[0] == 202
    await settled(control, bot)
    assert rows(bot, "SELECT count(*) FROM incidents") == [(3,)]
    posted = []
    for channel in (await control.world(refresh=True))["channels"]:
        if channel["type"] == 0:
            for message in await control.messages(channel["id"]):
                posted.append(message["content"] + json.dumps(message["embeds"]))
    everything = "\n".join(posted)
    assert everything.count("Pay here") >= 4  # every group's title was posted somewhere
    assert "Pay here (http://evil.example/steal)" in everything  # the link shown plainly
    for forbidden in ("@everyone", "@here", f"<@{carol}>", f"<@&{signers}>", f"]({evil}"):
        assert forbidden not in everything
    assert "\\u202e" not in everything and "\u202e" not in everything
    assert "\\u0000" not in everything and "\x00" not in everything
    assert "**now**" not in everything
