"""Per-route buckets and the global limit, with Discord's headers and real 429s (issue 9)."""

from __future__ import annotations

import pytest

from sandbox.discord import ratelimits

from .conftest import Control, RecordingBot


class FrozenClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def frozen(world) -> FrozenClock:
    clock = FrozenClock()
    world.discord.rate_limits.clock = clock
    return clock


async def _post(control: Control, channel: str) -> tuple[int, dict, dict]:
    path = f"/api/v10/channels/{control.channel_id(channel)}/messages"
    headers = {"Authorization": f"Bot {control.world.bot_token}"}
    async with control.session.post(
        control.world.base_url + path, json={"content": "x"}, headers=headers
    ) as response:
        return response.status, dict(response.headers), await response.json(content_type=None)


async def test_five_messages_per_five_seconds_per_channel_then_a_real_429(
    control: Control, frozen: FrozenClock
):
    remaining = []
    for _ in range(5):
        status, headers, _ = await _post(control, "general")
        assert status == 200
        remaining.append(headers["X-RateLimit-Remaining"])
        assert headers["X-RateLimit-Limit"] == "5" and headers["X-RateLimit-Bucket"]
        assert float(headers["X-RateLimit-Reset-After"]) == pytest.approx(5.0)
    assert remaining == ["4", "3", "2", "1", "0"]
    status, headers, body = await _post(control, "general")
    assert status == 429
    assert set(body) == {"message", "retry_after", "global", "code"}
    assert body["global"] is False and body["retry_after"] == pytest.approx(5.0)
    assert headers["X-RateLimit-Scope"] == "user" and headers["Retry-After"] == "5"
    # another channel is another bucket; time passing empties this one
    assert (await _post(control, "ops-alerts"))[0] == 200
    frozen.now += 5.0
    assert (await _post(control, "general"))[0] == 200
    assert control.world.discord.rate_limits.answered_429 == 1
    _, limits = await control.request("GET", "/_sandbox/rate-limits")
    assert limits["answered_429_by_route"] == {"POST /channels/{channel_id}/messages": 1}


async def test_fifty_requests_per_second_in_all_then_a_global_429(
    control: Control, frozen: FrozenClock
):
    for _ in range(ratelimits.GLOBAL_LIMIT):
        status, _ = await control.rest("GET", "/users/@me")
        assert status == 200
    async with control.session.get(
        control.world.base_url + "/api/v10/users/@me",
        headers={"Authorization": f"Bot {control.world.bot_token}"},
    ) as response:
        body = await response.json()
        assert response.status == 429 and body["global"] is True
        assert response.headers["X-RateLimit-Global"] == "true"
        assert response.headers["X-RateLimit-Scope"] == "global"
    frozen.now += 1.0
    assert (await control.rest("GET", "/users/@me"))[0] == 200


async def test_the_limits_can_be_switched_off_for_a_demo(control: Control, frozen: FrozenClock):
    status, settings = await control.request(
        "PUT", "/_sandbox/settings", json={"rate_limits": False}
    )
    assert status == 200 and settings["rate_limits"] is False
    for _ in range(7):
        assert (await _post(control, "general"))[0] == 200
    status, _ = await control.request("PUT", "/_sandbox/settings", json={"rate_limits": "no"})
    assert status == 400


async def test_discord_py_paces_itself_by_the_headers_and_gets_no_429(
    bot: RecordingBot, control: Control, monkeypatch
):
    key = ("POST", "/channels/{channel_id}/messages")
    monkeypatch.setitem(ratelimits.ROUTE_LIMITS, key, (5, 0.3))
    channel = bot.get_channel(int(control.channel_id("general")))
    for number in range(12):
        await channel.send(f"message {number}")
    messages = await control.get(f"/_sandbox/channels/{control.channel_id('general')}/messages")
    assert [m["content"] for m in messages] == [f"message {n}" for n in range(12)]
    status, limits = await control.request("GET", "/_sandbox/rate-limits")
    assert status == 200 and limits["answered_429"] == 0


async def test_the_reset_a_header_tells_is_never_before_the_window_ends(
    control: Control, frozen: FrozenClock
):
    # Rounded to the nearest millisecond, 4.9994 s left read "4.999": a client waiting
    # exactly that came back half a millisecond early and met a 429.
    assert (await _post(control, "general"))[0] == 200
    frozen.now += 0.0006
    status, headers, _ = await _post(control, "general")
    assert status == 200
    assert float(headers["X-RateLimit-Reset-After"]) >= 4.9994
    assert headers["X-RateLimit-Reset-After"] == "5.000"
    for _ in range(3):
        await _post(control, "general")
    status, _, body = await _post(control, "general")
    assert status == 429 and body["retry_after"] >= 4.9994
