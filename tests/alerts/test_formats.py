"""The three formats as their senders document them, read into the worker's one shape."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.alerts.formats import BadPayload, check
from bot.alerts.notification import clean_title, labels_fingerprint, parse
from tests.alerts.conftest import payload


def raw(name: str) -> bytes:
    return json.dumps(payload(name)).encode()


def test_alertmanager_v4_from_the_docs():
    n = parse("alertmanager", raw("alertmanager_probe_failure.json"))
    assert n.group_key == '{}/{severity="critical"}:{alertname="ProbeFailure"}'
    assert n.title == "BlackBox Probe Failure: https://server.example.org"
    assert n.summary.startswith("Instance https://server.example.org has been down")
    [alert] = n.alerts
    assert alert.fingerprint == "1a30ba71cca2921f"
    assert alert.status == "firing" and alert.severity == "critical"
    assert alert.starts_at == datetime(2023, 2, 6, 13, 8, 45, 828000, tzinfo=UTC)
    assert alert.ends_at is None  # Go's zero time while firing
    assert n.link == "http://prometheus.example.org:9093"


def test_an_alertmanager_alert_without_fingerprint_gets_one_from_its_labels():
    n = parse("alertmanager", raw("alertmanager_test_no_fingerprint.json"))
    [alert] = n.alerts
    assert alert.fingerprint == labels_fingerprint(alert.labels)
    assert alert.starts_at == datetime(2018, 8, 3, 7, 52, 26, 739266, tzinfo=UTC)  # ns, +02:00
    assert n.title == "Test" and alert.severity is None


def test_grafana_from_the_docs_is_grouped_per_org_and_named_after_its_alerts():
    n = parse("grafana", raw("grafana_high_usage.json"))
    assert n.group_key == "org1/{}:{}"
    assert n.title == "High memory usage and 1 more"
    assert [a.fingerprint for a in n.alerts] == ["c6eadffa33fcdf37", "bc97ff14869b13e3"]
    assert [a.name for a in n.alerts] == ["High memory usage", "High CPU usage"]


def test_a_grafana_body_without_group_key_is_grouped_by_receiver_and_group_labels():
    body = payload("grafana_high_usage.json")
    del body["groupKey"]
    body["groupLabels"] = {"team": "blue"}
    n = parse("grafana", json.dumps(body))
    assert n.group_key == 'org1/receiver=My Super Webhook:{"team": "blue"}'


def test_generic_trigger_resolve_and_acknowledge():
    trigger = {
        "event_action": "trigger",
        "dedup_key": "db-1-disk",
        "payload": {
            "summary": "Disk full on db-1",
            "source": "db-1",
            "severity": "error",
            "component": "postgres",
            "custom_details": {"free": "0 B"},
        },
    }
    n = parse("generic", json.dumps(trigger))
    assert (n.group_key, n.title, n.action) == ("db-1-disk", "Disk full on db-1", "notify")
    [alert] = n.alerts
    assert (alert.status, alert.severity, alert.name) == ("firing", "error", "postgres")
    assert alert.labels["source"] == "db-1" and alert.annotations["custom_details"] == {
        "free": "0 B"
    }
    done = parse("generic", json.dumps({"event_action": "resolve", "dedup_key": "db-1-disk"}))
    assert done.group_key == "db-1-disk" and done.alerts[0].status == "resolved"
    ack = parse("generic", json.dumps({"event_action": "acknowledge", "dedup_key": "db-1-disk"}))
    assert ack.action == "acknowledge" and ack.alerts == ()


def test_a_generic_trigger_without_dedup_key_gets_a_stable_one():
    body = {
        "event_action": "trigger",
        "payload": {"summary": "s", "source": "x", "severity": "info"},
    }
    first, again = parse("generic", json.dumps(body)), parse("generic", json.dumps(body))
    assert first.group_key == again.group_key and first.group_key.startswith("auto-")


@pytest.mark.parametrize(
    ("source", "body", "status", "named"),
    [
        ("alertmanager", b"nope", 400, "not valid JSON"),
        ("alertmanager", b"[]", 422, "JSON object"),
        ("alertmanager", b'{"version": "4"}', 422, "groupKey: required field is missing"),
        (
            "grafana",
            b'{"status": "firing", "alerts": [{"status": "firing", "labels": []}]}',
            422,
            "alerts.0.labels",
        ),
        ("grafana", b'{"status": "pending", "alerts": []}', 422, "status: unknown value"),
        (
            "generic",
            b'{"event_action": "trigger", "payload": {"summary": "", "source": "a", "severity": "info"}}',
            422,
            "payload.summary",
        ),
    ],
)
def test_refusals_name_the_problem(source, body, status, named):
    with pytest.raises(BadPayload) as refused:
        check(source, body, max_alerts=100)
    assert refused.value.status == status
    assert named in refused.value.message


def test_extreme_timestamps_do_not_break_the_reading():
    body = payload("alertmanager_probe_failure.json")
    body["alerts"][0]["startsAt"] = "0001-01-01T00:00:00+05:00"
    body["alerts"][0]["endsAt"] = "9999-12-31T23:59:59-05:00"
    [alert] = parse("alertmanager", json.dumps(body)).alerts
    assert alert.starts_at is None and alert.ends_at is None


def test_titles_are_one_readable_line():
    assert clean_title("  Disk\n full  ", "x") == "Disk full"
    assert clean_title("🔥🔥", "Fallback") == "Fallback"
    assert len(clean_title("a" * 500, "x")) == 200


def test_one_clip_for_summaries_notes_and_messages():
    from bot.alerts import notification, rules, worker

    assert not hasattr(worker, "_clip") and not hasattr(notification, "_clip")
    assert not hasattr(rules, "_clip")
    assert rules.clip is notification.clip  # the worker's messages are clipped in rules
    assert notification.clip("  x  ", 10) == "x"
    assert notification.clip(" \n ", 10) is None
    assert notification.clip("a" * 20, 10) == "a" * 9 + "…"
