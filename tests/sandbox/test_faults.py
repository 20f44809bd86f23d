"""Injected faults: discord.py retries 429s and 500s, RESUMEs after a drop, re-IDENTIFYs when invalidated."""

from __future__ import annotations

import asyncio

from .conftest import Control, RecordingBot


def _statuses(requests: list[dict], method: str, prefix: str) -> list[int]:
    return [r["status"] for r in requests if r["method"] == method and r["path"].startswith(prefix)]


async def test_an_injected_429_is_retried_by_discord_py(bot: RecordingBot, control: Control):
    general = control.channel_id("general")
    prefix = f"/channels/{general}/messages"
    status, _ = await control.post(
        "/_sandbox/faults", {"kind": "rate_limit", "count": 1, "path_prefix": prefix}
    )
    assert status == 201
    message = await bot.get_channel(int(general)).send("after a rate limit")
    assert message.content == "after a rate limit"
    requests = await control.get("/_sandbox/requests")
    assert _statuses(requests, "POST", prefix) == [429, 200]


async def test_an_injected_500_is_retried_by_discord_py(bot: RecordingBot, control: Control):
    general = control.channel_id("general")
    prefix = f"/channels/{general}/messages"
    await control.post(
        "/_sandbox/faults", {"kind": "server_error", "count": 1, "path_prefix": prefix}
    )
    message = await bot.get_channel(int(general)).send("after a server error")
    assert message.id
    requests = await control.get("/_sandbox/requests")
    assert _statuses(requests, "POST", prefix) == [500, 200]


async def test_a_dropped_gateway_is_resumed_with_missed_events(bot: RecordingBot, control: Control):
    session_before = bot.ws.session_id
    _, applied = await control.post("/_sandbox/faults", {"kind": "disconnect", "count": 1})
    assert applied["applied_now"] == 1
    await control.post(
        "/_sandbox/messages",
        {"user_id": "alice", "channel_id": "general", "content": "while you were away"},
    )
    await bot.until("resumed")
    message = (await bot.until("message", lambda m: m.content == "while you were away"))[0]
    assert message.author.name == "alice"
    assert bot.ws.session_id == session_before
    gateway = await control.get("/_sandbox/gateway")
    assert (gateway["identifies"], gateway["resumes"]) == (1, 1)


async def test_an_invalidated_session_ends_in_a_fresh_identify(bot: RecordingBot, control: Control):
    session_before = bot.ws.session_id
    await control.post("/_sandbox/faults", {"kind": "invalid_session", "count": 1})
    await control.post("/_sandbox/faults", {"kind": "disconnect", "count": 1})
    # discord.py waits 5 s before any IDENTIFY that is not its first (Client.before_identify_hook)
    await bot.until("ready", nth=2, timeout=10)
    assert bot.ws.session_id != session_before
    gateway = await control.get("/_sandbox/gateway")
    assert gateway["identifies"] == 2 and gateway["invalidated"] == 1
    assert bot.guilds and bot.guilds[0].name == "Atrium"


async def test_rest_latency_can_be_changed_at_run_time(control: Control):
    status, settings = await control.request(
        "PUT", "/_sandbox/settings", json={"rest_latency_ms": 25}
    )
    assert status == 200 and settings == {"rest_latency_ms": 25.0, "rate_limits": True}
    loop = asyncio.get_running_loop()
    started = loop.time()
    await control.rest("GET", "/users/@me")
    assert loop.time() - started >= 0.025


async def test_server_error_after_takes_effect_then_answers_500(control: Control):
    general = control.channel_id("general")
    prefix = f"/channels/{general}/messages"
    status, _ = await control.post(
        "/_sandbox/faults", {"kind": "server_error_after", "count": 1, "path_prefix": prefix}
    )
    assert status == 201
    status, body = await control.rest("POST", prefix, json={"content": "done anyway"})
    assert status == 500 and body["code"] == 0
    messages = await control.get(f"/_sandbox/channels/{general}/messages")
    assert [m["content"] for m in messages] == ["done anyway"]
    # a plain retry (no nonce) posts again, as on Discord
    assert (await control.rest("POST", prefix, json={"content": "done anyway"}))[0] == 200
    assert len(await control.get(f"/_sandbox/channels/{general}/messages")) == 2


async def test_a_nonce_with_enforce_nonce_makes_the_retry_find_the_first_message(
    bot: RecordingBot, control: Control
):
    general = control.channel_id("general")
    prefix = f"/channels/{general}/messages"
    await control.post(
        "/_sandbox/faults", {"kind": "server_error_after", "count": 1, "path_prefix": prefix}
    )
    sent = await bot.get_channel(int(general)).send("once", nonce=123456789)
    messages = await control.get(f"/_sandbox/channels/{general}/messages")
    assert [m["id"] for m in messages] == [str(sent.id)]


async def test_server_error_after_a_refused_request_answers_the_refusal(control: Control):
    general = control.channel_id("general")
    await control.post(
        "/_sandbox/faults",
        {"kind": "server_error_after", "count": 1, "path_prefix": f"/channels/{general}"},
    )
    status, body = await control.rest(
        "POST", f"/channels/{general}/messages", json={"content": "x" * 2001}
    )
    assert status == 400 and body["code"] == 50035
    assert await control.get(f"/_sandbox/channels/{general}/messages") == []
