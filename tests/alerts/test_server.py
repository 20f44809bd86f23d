"""The webhook's door: what is answered, and what is stored, for every kind of request."""

from __future__ import annotations

import copy
import json
import logging
import select
import socket
import sqlite3
import threading
import time

from bot.alerts import server as server_module
from tests.alerts.conftest import (
    JSON,
    MAX_ALERTS,
    MAX_BODY,
    OLD_TOKEN,
    SECRET,
    TOKEN,
    ServerThread,
    bearer,
    payload,
    sign,
)

AM = "alertmanager_probe_failure.json"


def test_a_valid_alertmanager_notification_is_stored_before_the_202(server):
    body = json.dumps(payload(AM)).encode()
    status, answer = server.post("alertmanager", body)
    assert status == 202
    assert answer == {"status": "accepted", "id": 1, "alerts": 1}
    assert server.stored() == [("alertmanager", body.decode())]


def test_both_bearer_tokens_work_while_one_is_rotated(server):
    for token in (TOKEN, OLD_TOKEN):
        status, _ = server.post("alertmanager", payload(AM), bearer(token))
        assert status == 202
    assert len(server.stored()) == 2


def test_grafana_signature_without_and_with_a_timestamp_is_accepted(server):
    body = json.dumps(payload("grafana_high_usage.json")).encode()
    plain = {**JSON, **sign(body)}
    stamped = {**JSON, **sign(body, timestamp=str(int(time.time())))}
    for headers in (plain, stamped):
        status, _, answer = server.request("POST", "/alerts/grafana", body, headers)
        assert status == 202, answer
    assert len(server.stored()) == 2


def test_no_or_wrong_credentials_are_401_and_store_nothing(server):
    body = json.dumps(payload(AM)).encode()
    cases = [
        ({**JSON}, "missing credentials"),
        ({**JSON, **bearer("nope")}, "bearer token is not one of"),
        ({**JSON, "Authorization": "Basic dXNlcjpwYXNz"}, "not `Bearer <token>`"),
        ({**JSON, **sign(body, secret="other-secret")}, "does not match the body"),
        ({**JSON, **sign(body, timestamp=str(int(time.time()) - 301))}, "301 s old"),
        ({**JSON, **sign(body, timestamp=str(int(time.time()) + 900))}, "in the future"),
        ({**JSON, **sign(body, timestamp="yesterday")}, "must be Unix seconds"),
        ({**JSON, **sign(body + b" ")}, "does not match"),
    ]
    for headers, reason in cases:
        status, response_headers, answer = server.request(
            "POST", "/alerts/alertmanager", body, headers
        )
        assert status == 401
        assert response_headers["WWW-Authenticate"].startswith("Bearer")
        assert reason in json.loads(answer)["error"]
    assert server.stored() == []


def test_an_oversize_body_is_413_whether_announced_or_streamed(server):
    big = b'{"pad": "' + b"x" * MAX_BODY + b'"}'
    status, _, answer = server.request("POST", "/alerts/alertmanager", big, {**JSON, **bearer()})
    assert status == 413
    assert "larger than" in json.loads(answer)["error"]

    def chunks():
        yield big

    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request(
        "POST",
        "/alerts/alertmanager",
        body=chunks(),
        headers={**JSON, **bearer()},
        encode_chunked=True,
    )
    response = connection.getresponse()
    assert response.status == 413
    assert "max_body_bytes" in json.loads(response.read())["error"]
    connection.close()
    assert server.stored() == []


def test_wrong_content_type_is_415(server):
    status, _, answer = server.request(
        "POST",
        "/alerts/alertmanager",
        json.dumps(payload(AM)).encode(),
        {"Content-Type": "text/plain", **bearer()},
    )
    assert status == 415
    assert "application/json" in json.loads(answer)["error"]


def test_not_json_is_400_naming_it(server):
    for body in (b"{not json", b"", b"\xff\xfe\x00"):
        status, answer = server.post("alertmanager", body)
        assert status == 400
        assert answer["error"]
    assert server.stored() == []


def test_missing_fields_wrong_types_and_unknown_status_are_422_naming_the_field(server):
    base = payload(AM)
    cases = []
    missing = copy.deepcopy(base)
    del missing["groupKey"]
    cases.append((missing, "groupKey: required field is missing"))
    wrong = copy.deepcopy(base)
    wrong["alerts"][0]["labels"]["severity"] = 1
    cases.append((wrong, "alerts.0.labels.severity"))
    unknown = copy.deepcopy(base)
    unknown["status"] = "exploded"
    cases.append((unknown, "status: unknown value"))
    version = copy.deepcopy(base)
    version["version"] = "3"
    cases.append((version, "version"))
    empty = copy.deepcopy(base)
    empty["alerts"] = []
    cases.append((empty, "alerts"))
    cases.append(([base], "body must be a JSON object"))
    for body, named in cases:
        status, answer = server.post("alertmanager", body)
        assert status == 422, body
        assert named in answer["error"]
    assert server.stored() == []


def test_ten_thousand_alerts_in_one_body_are_refused_before_anything_is_stored(tmp_path):
    # The defaults: a 1 MiB body limit and at most 1000 alerts per notification.
    server = ServerThread(tmp_path / "defaults.sqlite3", max_body=1_048_576, max_alerts=1000)
    try:
        body = payload(AM)
        body["alerts"] = [{"status": "firing", "labels": {"n": str(i)}} for i in range(10_000)]
        raw = json.dumps(body, separators=(",", ":")).encode()
        assert len(raw) < 1_048_576
        status, answer = server.post("alertmanager", raw)
        assert status == 422
        assert "10000 alerts in one notification; the limit is 1000" in answer["error"]
        assert server.stored() == []
    finally:
        server.close()


def test_the_alert_cap_is_configuration(server):
    body = payload(AM)
    body["alerts"] = body["alerts"] * (MAX_ALERTS + 1)
    status, answer = server.post("alertmanager", body)
    assert status == 422 and f"the limit is {MAX_ALERTS} (alerts.max_alerts" in answer["error"]
    body["alerts"] = body["alerts"][:MAX_ALERTS]
    assert server.post("alertmanager", body)[0] == 202


def test_generic_events_need_what_pagerduty_needs(server):
    ok = {
        "event_action": "trigger",
        "payload": {"summary": "s", "source": "db-1", "severity": "info"},
    }
    assert server.post("generic", ok)[0] == 202
    cases = [
        ({"event_action": "trigger"}, "a trigger needs `payload`"),
        ({"event_action": "resolve"}, "`resolve` needs the `dedup_key`"),
        ({"event_action": "explode", "dedup_key": "k"}, "event_action: unknown value"),
        ({**ok, "payload": {"summary": "s", "source": "db-1"}}, "payload.severity"),
        ({**ok, "dedup_key": 7}, "dedup_key"),
    ]
    for body, named in cases:
        status, answer = server.post("generic", body)
        assert status == 422
        assert named in answer["error"]
    assert len(server.stored()) == 1


def test_the_generic_routing_key_is_not_stored(server):
    event = {
        "routing_key": "e93facc04764012d7bfb002500d5d1a6",
        "event_action": "trigger",
        "dedup_key": "k-1",
        "payload": {"summary": "Disk full", "source": "db-1", "severity": "critical"},
    }
    assert server.post("generic", event)[0] == 202
    [(source, body)] = server.stored()
    assert source == "generic"
    assert "e93facc0" not in body and json.loads(body)["dedup_key"] == "k-1"


def test_unknown_routes_and_methods_answer_json(server):
    status, _, answer = server.request("POST", "/alerts/nagios", b"{}", {**JSON, **bearer()})
    assert status == 404 and "nagios" in json.loads(answer)["error"]
    status, _, answer = server.request("GET", "/alerts/alertmanager")
    assert status == 405 and "POST" in json.loads(answer)["error"]
    status, _, answer = server.request("GET", "/nothing-here")
    assert status == 404 and "/alerts/" in json.loads(answer)["error"]


def test_healthz_and_metrics_need_no_credentials(server):
    server.post("alertmanager", payload(AM))
    server.post("alertmanager", b"[", bearer("bad"))
    status, _, answer = server.request("GET", "/healthz")
    assert status == 200 and json.loads(answer)["database"] == "ok"
    status, headers, answer = server.request("GET", "/metrics")
    text = answer.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert (
        'incident_bot_alerts_received_total{outcome="accepted",source="alertmanager"} 1.0' in text
    )
    assert (
        'incident_bot_alerts_received_total{outcome="unauthorized",source="alertmanager"} 1.0'
        in text
    )
    assert 'incident_bot_alert_accept_seconds_count{source="alertmanager"} 1.0' in text


def test_refusals_log_no_secret_and_echo_none(server, caplog):
    caplog.set_level(logging.DEBUG)
    body = json.dumps(payload(AM)).encode()
    answers = []
    for headers in (bearer(TOKEN + "x"), sign(body, secret=SECRET + "x"), bearer(TOKEN)):
        answers.append(server.request("POST", "/alerts/alertmanager", body, {**JSON, **headers})[2])
    everything = b"".join(answers).decode() + "\n".join(r.getMessage() for r in caplog.records)
    stored = "".join(body for _, body in server.stored())
    for secret in (TOKEN, OLD_TOKEN, SECRET):
        assert secret not in everything
        assert secret not in stored


# -- durable before acknowledged ----------------------------------------------------------------
def _break_commits(database) -> None:
    """A real fault in the real file: every transaction storing a notification fails at COMMIT
    (a deferred foreign key, which SQLite checks only when the transaction commits)."""
    with sqlite3.connect(database) as db:
        db.executescript(
            """
            CREATE TABLE fault_parent (id INTEGER PRIMARY KEY);
            CREATE TABLE fault_child (
                parent INTEGER REFERENCES fault_parent (id) DEFERRABLE INITIALLY DEFERRED
            );
            CREATE TRIGGER fault_on_store AFTER INSERT ON alert_notifications
            BEGIN INSERT INTO fault_child VALUES (-1); END;
            """
        )


def _mend_commits(database) -> None:
    with sqlite3.connect(database, timeout=2) as db:
        db.execute("DROP TRIGGER fault_on_store")


def test_a_commit_that_fails_is_503_stores_nothing_and_the_retry_is_accepted(server):
    body = json.dumps(payload(AM)).encode()
    _break_commits(server.database)
    status, answer = server.post("alertmanager", body)
    assert status == 503
    assert "send it again" in answer["error"]
    assert server.stored() == []
    # The database is back: the sender's retry is stored, once.
    _mend_commits(server.database)
    status, answer = server.post("alertmanager", body)
    assert status == 202 and answer["status"] == "accepted"
    assert server.stored() == [("alertmanager", body.decode())]


# -- replays ------------------------------------------------------------------------------------
def test_a_replayed_signed_request_is_stored_once_within_the_window(server):
    body = json.dumps(payload("grafana_high_usage.json")).encode()
    now = int(time.time())
    for headers in (sign(body, timestamp=str(now)), sign(body)):  # with and without timestamp
        answers = [
            server.request("POST", "/alerts/grafana", body, {**JSON, **headers}) for _ in range(10)
        ]
        assert [status for status, _, _ in answers] == [202] * 10
        ids = {json.loads(answer)["id"] for _, _, answer in answers}
        assert len(ids) == 1  # every replay is answered with the first one's id
    assert len(server.stored()) == 2
    # A fresh signature (a new timestamp) of the same body is a new notification.
    status, _, _ = server.request(
        "POST", "/alerts/grafana", body, {**JSON, **sign(body, timestamp=str(now + 1))}
    )
    assert status == 202
    assert len(server.stored()) == 3


def test_a_replay_is_recognised_across_a_restart(tmp_path):
    body = json.dumps(payload("grafana_high_usage.json")).encode()
    headers = {**JSON, **sign(body, timestamp=str(int(time.time())))}
    first = ServerThread(tmp_path / "replay.sqlite3")
    try:
        assert first.request("POST", "/alerts/grafana", body, headers)[0] == 202
    finally:
        first.close()
    second = ServerThread(tmp_path / "replay.sqlite3")
    try:
        assert second.request("POST", "/alerts/grafana", body, headers)[0] == 202
        assert len(second.stored()) == 1
    finally:
        second.close()


# -- big bodies off the loop ----------------------------------------------------------------
def test_a_mebibyte_of_empty_alerts_is_refused_by_count_while_healthz_answers(
    tmp_path, monkeypatch
):
    server = ServerThread(tmp_path / "big.sqlite3", max_body=1_048_576, max_alerts=1000)
    head = b'{"version":"4","groupKey":"k","status":"firing","alerts":['
    count = (1_048_576 - len(head) - 2) // 3
    body = head + b",".join([b"{}"] * count) + b"]}"
    assert len(body) <= 1_048_576
    # The door's check waits at a gate, so the test sees what runs meanwhile: the
    # event loop, which also runs the gateway, must stay free to answer.
    real_check = server_module.check
    entered, release = threading.Event(), threading.Event()
    threads: list[threading.Thread] = []

    def gated(*args):
        threads.append(threading.current_thread())
        entered.set()
        release.wait(30)
        return real_check(*args)

    monkeypatch.setattr(server_module, "check", gated)
    answers: list[tuple[int, dict]] = []
    poster = threading.Thread(target=lambda: answers.append(server.post("alertmanager", body)))
    try:
        poster.start()
        assert entered.wait(10)
        status, _, health = server.request("GET", "/healthz")  # while the body is being checked
        assert status == 200 and json.loads(health)["database"] == "ok"
        assert answers == []  # the refusal has not been answered yet
        release.set()
        poster.join(30)
        [(status, answer)] = answers
        assert status == 422
        assert f"{count} alerts in one notification; the limit is 1000" in answer["error"]
        assert threads and threads[0] is not server._thread  # checked off the event loop
        assert server.stored() == []
    finally:
        release.set()
        poster.join(30)
        server.close()


# -- slow clients ---------------------------------------------------------------------------
def _trickle(server: ServerThread, opening: bytes, byte: bytes, most: int = 200) -> bytes | None:
    """Send ``opening``, then ``byte`` after ``byte`` (never finishing) until the server
    answers or hangs up: what it sent (b"" for a plain close), or None if it never did."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(opening)
        for _ in range(most):
            try:
                sock.sendall(byte)
            except OSError:
                return b""
            readable, _, _ = select.select([sock], [], [], 0.05)  # the client's own pace
            if readable:
                try:
                    return sock.recv(65536)
                except ConnectionResetError:
                    return b""
    return None


def test_a_client_sending_its_headers_slowly_is_cut_off(tmp_path):
    server = ServerThread(tmp_path / "slow.sqlite3", header_timeout=0.2)
    try:
        head = b"POST /alerts/alertmanager HTTP/1.1\r\nHost: bot\r\nX-Slow: "
        answer = _trickle(server, head, b"a")
        assert answer is not None, "the server waited for the headers as long as they came"
        assert b"202" not in answer
        # The server still answers a client that sends its request at once.
        assert server.post("alertmanager", payload(AM))[0] == 202
    finally:
        server.close()


def test_a_client_sending_its_body_slowly_is_answered_408_and_nothing_is_stored(tmp_path):
    server = ServerThread(tmp_path / "slow.sqlite3", read_timeout=0.2)
    try:
        head = (
            "POST /alerts/alertmanager HTTP/1.1\r\nHost: bot\r\n"
            f"Content-Type: application/json\r\nAuthorization: Bearer {TOKEN}\r\n"
            "Content-Length: 5000\r\n\r\n"
        ).encode()
        answer = _trickle(server, head + b'{"pad": "', b"x")
        assert answer is not None, "the server waited for the body as long as it came"
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"webhook.read_timeout" in answer
        assert server.stored() == []
    finally:
        server.close()
