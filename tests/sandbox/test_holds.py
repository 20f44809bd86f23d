"""Held requests (issue 15): a drill stops the bot at a chosen Discord call, then releases it."""

from __future__ import annotations

import asyncio

from .conftest import Control


async def _arrived(control: Control) -> list[dict]:
    for _ in range(200):
        held = [h for h in (await control.get("/_sandbox/holds"))["held"] if not h["released"]]
        if held:
            return held
        await asyncio.sleep(0.01)
    raise AssertionError("no request was held")


async def test_hold_stops_before_the_effect_and_drop_leaves_nothing_done(control: Control):
    general = control.channel_id("general")
    status, _ = await control.post(
        "/_sandbox/faults",
        {"kind": "hold", "count": 1, "method": "post", "path_pattern": r"/channels/\d+/messages$"},
    )
    assert status == 201
    sent = asyncio.create_task(
        control.rest("POST", f"/channels/{general}/messages", json={"content": "held"})
    )
    (held,) = await _arrived(control)
    assert (held["kind"], held["method"], held["path"]) == (
        "hold",
        "POST",
        f"/channels/{general}/messages",
    )
    assert await control.get(f"/_sandbox/channels/{general}/messages") == []
    status, body = await control.post("/_sandbox/holds/release", {"drop": True})
    assert status == 200 and [h["id"] for h in body["released"]] == [held["id"]]
    assert (await sent)[0] == 503
    assert await control.get(f"/_sandbox/channels/{general}/messages") == []


async def test_a_released_hold_takes_effect(control: Control):
    general = control.channel_id("general")
    await control.post("/_sandbox/faults", {"kind": "hold", "count": 1, "method": "POST"})
    sent = asyncio.create_task(
        control.rest("POST", f"/channels/{general}/messages", json={"content": "late"})
    )
    (held,) = await _arrived(control)
    await control.post("/_sandbox/holds/release", {"id": held["id"]})
    assert (await sent)[0] == 200
    messages = await control.get(f"/_sandbox/channels/{general}/messages")
    assert [m["content"] for m in messages] == ["late"]


async def test_hold_after_takes_effect_then_holds_the_answer(control: Control):
    general = control.channel_id("general")
    await control.post(
        "/_sandbox/faults", {"kind": "hold_after", "count": 1, "path_prefix": "/channels/"}
    )
    sent = asyncio.create_task(
        control.rest("POST", f"/channels/{general}/messages", json={"content": "done"})
    )
    await _arrived(control)
    messages = await control.get(f"/_sandbox/channels/{general}/messages")
    assert [m["content"] for m in messages] == ["done"]
    assert not sent.done()
    await control.post("/_sandbox/holds/release", {})
    assert (await sent)[0] == 200


async def test_hold_options_are_checked(control: Control):
    bad = [
        {"kind": "server_error", "method": "POST"},
        {"kind": "hold", "path_pattern": "("},
        {"kind": "hold", "method": 3},
    ]
    for body in bad:
        status, answer = await control.post("/_sandbox/faults", body)
        assert status == 400, (body, answer)
    status, _ = await control.post("/_sandbox/holds/release", {"id": "one"})
    assert status == 400
