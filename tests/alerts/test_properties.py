"""Generated bodies at every endpoint: never a 5xx, always JSON naming the problem, nothing half-stored.

Three kinds of input: arbitrary bytes, arbitrary JSON, and the documented
payloads with one part deleted, replaced or added. Whatever is accepted must
also be readable by the worker, so an accepted body can never become a
half-made incident.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from bot.alerts.formats import SOURCES
from bot.alerts.notification import parse
from tests.alerts.conftest import TOKEN, ServerThread, payload

VALID = {
    "alertmanager": [
        payload("alertmanager_probe_failure.json"),
        payload("alertmanager_test_no_fingerprint.json"),
    ],
    "grafana": [payload("grafana_high_usage.json")],
    "generic": [
        {
            "routing_key": "R" * 32,
            "event_action": "trigger",
            "dedup_key": "disk-full",
            "payload": {"summary": "Disk full", "source": "db-1", "severity": "critical"},
        },
        {"event_action": "resolve", "dedup_key": "disk-full"},
    ],
}

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["firing", "resolved", "4", "1", "trigger", "0001-01-01T00:00:00Z"]),
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    running = ServerThread(tmp_path_factory.mktemp("props") / "alerts.sqlite3")
    try:
        yield running
    finally:
        running.close()


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into a JSON value (dict keys and list indexes)."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _mutate(document: Any, path: tuple, how: str, replacement: Any, new_key: str) -> Any:
    if not path:
        return replacement
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if how == "delete":
        del parent[last]
    elif how == "replace":
        parent[last] = replacement
    elif isinstance(parent[last], dict):
        parent[last][new_key] = replacement
    elif isinstance(parent[last], list):
        parent[last].append(replacement)
    else:
        parent[last] = replacement
    return document


def _check(server: ServerThread, source: str, raw: bytes, content_type: str = "application/json"):
    before = len(server.stored())
    headers = {"Content-Type": content_type, "Authorization": "Bearer " + TOKEN}
    status, response_headers, answer = server.request("POST", f"/alerts/{source}", raw, headers)
    assert status < 500, answer
    if currently_in_test_context():
        event(f"answered {status}")
    assert response_headers.get("Content-Type", "").startswith("application/json")
    body = json.loads(answer)
    after = server.stored()
    if status == 202:
        assert len(after) == before + 1
        stored_source, stored_body = after[-1]
        assert stored_source == source
        parse(source, stored_body)  # the worker can read whatever was accepted
    else:
        assert status in {400, 413, 415, 422}
        assert isinstance(body["error"], str) and body["error"].strip()
        assert len(after) == before


PROPERTY = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@PROPERTY
@given(source=st.sampled_from(SOURCES), raw=st.binary(max_size=300))
def test_arbitrary_bytes_get_a_json_4xx_or_are_stored_whole(shared, source, raw):
    _check(shared, source, raw)


@PROPERTY
@given(source=st.sampled_from(SOURCES), value=json_values)
def test_arbitrary_json_gets_a_json_4xx_or_is_stored_whole(shared, source, value):
    _check(shared, source, json.dumps(value).encode())


@PROPERTY
@given(
    data=st.data(),
    source=st.sampled_from(SOURCES),
    how=st.sampled_from(["delete", "replace", "add"]),
    replacement=json_values,
    new_key=st.text(max_size=12),
)
def test_documented_payloads_with_one_part_changed_never_break_the_webhook(
    shared, data, source, how, replacement, new_key
):
    document = json.loads(json.dumps(data.draw(st.sampled_from(VALID[source]))))
    path = data.draw(st.sampled_from(_paths(document)))
    if how == "delete" and not path:
        how = "replace"
    mutated = _mutate(document, path, how, replacement, new_key)
    _check(shared, source, json.dumps(mutated).encode())


@PROPERTY
@given(
    source=st.sampled_from(SOURCES),
    content_type=st.sampled_from(
        ["text/plain", "application/x-www-form-urlencoded", "", "application/jsonx", "json"]
    ),
)
def test_a_body_of_another_type_is_415(shared, source, content_type):
    raw = json.dumps(VALID[source][0]).encode()
    before = len(shared.stored())
    headers = {"Authorization": "Bearer " + TOKEN}
    if content_type:
        headers["Content-Type"] = content_type
    status, _, answer = shared.request("POST", f"/alerts/{source}", raw, headers)
    assert status == 415 and "application/json" in json.loads(answer)["error"]
    assert len(shared.stored()) == before


def test_every_documented_payload_is_accepted_and_readable(shared):
    for source, bodies in VALID.items():
        for body in bodies:
            _check(shared, source, json.dumps(body).encode())
            status, _ = shared.post(source, body)
            assert status == 202
