"""The control API's answers to bad requests: 4xx with {"error": ...}."""

from __future__ import annotations

import pytest

from .conftest import Control


async def _sync_ping(control: Control) -> None:
    world = control.world
    path = f"/applications/{world.application_id}/guilds/{world.guild_id}/commands"
    await control.rest("PUT", path, json=[{"name": "ping", "description": "Ping"}])


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/_sandbox/commands", {"user_id": "nobody", "channel_id": "general", "name": "ping"}, 404),
        ("/_sandbox/commands", {"user_id": "alice", "channel_id": "nowhere", "name": "ping"}, 404),
        ("/_sandbox/commands", {"user_id": "alice", "channel_id": "general", "name": "nope"}, 400),
        ("/_sandbox/commands", {"user_id": "alice", "channel_id": "general"}, 400),
        (
            "/_sandbox/commands",
            {"user_id": "alice", "channel_id": "general", "name": "ping", "options": {"x": 1}},
            400,
        ),
        ("/_sandbox/messages", {"user_id": "alice", "channel_id": "nowhere", "content": "hi"}, 404),
        (
            "/_sandbox/reactions",
            {"user_id": "alice", "channel_id": "general", "message_id": "1", "emoji": "👍"},
            404,
        ),
        ("/_sandbox/components", {"user_id": "alice", "channel_id": "general"}, 400),
        ("/_sandbox/faults", {"kind": "meteor", "count": 1}, 400),
        ("/_sandbox/faults", {"kind": "rate_limit", "count": 0}, 400),
    ],
)
async def test_bad_control_requests_answer_4xx_with_an_error(control: Control, path, body, status):
    await _sync_ping(control)
    answered, error = await control.post(path, body)
    assert answered == status
    assert isinstance(error["error"], str) and error["error"]


async def test_a_member_message_over_the_limit_is_refused_with_discords_reason(control: Control):
    status, error = await control.post(
        "/_sandbox/messages", {"user_id": "alice", "channel_id": "general", "content": "x" * 2001}
    )
    assert status == 400 and error["code"] == 50035


async def test_an_unknown_control_route_is_404_json(control: Control):
    status, error = await control.request("GET", "/_sandbox/nothing-here")
    assert status == 404 and "error" in error


async def test_requests_since_lists_only_later_requests(control: Control):
    await control.rest("GET", "/users/@me")
    everything = await control.get("/_sandbox/requests")
    later = await control.get("/_sandbox/requests", params={"since": everything[-1]["at"]})
    assert later[0] == everything[-1]
    assert {"at", "method", "path", "status"} <= set(everything[0])
    status, error = await control.request(
        "GET", "/_sandbox/requests", params={"since": "yesterday"}
    )
    assert status == 400 and "error" in error
