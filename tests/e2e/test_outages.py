"""GitHub and X not answering (issue 15's outage drill, in the sandbox): /healthz names the
system, the incident channel is told once, and the work resumes by itself when it is back."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.e2e.helpers import healthz
from tests.e2e.test_communicate import approval_request, approve, declare, overlay_with, x_posted


@pytest.fixture
def overlay() -> dict[str, Any]:
    return overlay_with()


def said(messages: list[dict], text: str) -> list[dict]:
    return [m for m in messages if text in (m["content"] or "")]


@pytest.mark.manual_clock
async def test_a_github_outage_longer_than_the_retries_is_told_once_and_the_ticket_opened_after(
    bot, control, clock, world
):
    # 7 failures: the timer's 6 tries and the first of the fresh timer after them.
    await control.fault("server_error", count=7, path_prefix="/repos")
    channel = await declare(control, "Chart blank", "P3")
    await control.wait_for_message(
        channel["id"], lambda m: "GitHub is unavailable" in m["content"], what="the channel told"
    )
    status, body = await healthz(world)
    assert status == 503 and "github" in body["failing"], body
    assert body["github"].startswith("not answering")

    async def opened() -> list[dict] | None:
        clock.advance(timedelta(seconds=5))  # each look lets the next retry fall due
        return said(await control.messages(channel["id"]), "GitHub issue") or None

    [link] = await control.wait_for(opened, timeout=90, interval=0.2, what="the ticket's link")
    assert "GitHub is back" in link["content"]
    await bot.services.comms.idle()
    assert len(await control.github_issues()) == 1
    messages = await control.messages(channel["id"])
    assert len(said(messages, "GitHub is unavailable")) == 1
    assert said(messages, "none was opened") == []  # not given up
    status, body = await healthz(world)
    assert "github" not in body["failing"] and body["github"] == "ok", body


async def test_an_x_outage_is_named_by_healthz_until_x_takes_the_post(bot, control, world):
    channel = await declare(control, "Bridge halted", "P0")
    request = await approval_request(control, channel["id"])
    await control.fault("server_error", count=2, path_prefix="/2/tweets")
    await approve(control, "alice", channel["id"], request)
    await control.wait_for_message(channel["id"], lambda m: "stays pending" in m["content"])
    status, body = await healthz(world)
    assert status == 503 and "x" in body["failing"], body
    await x_posted(control)
    await control.wait_for_message(channel["id"], lambda m: "Posted to X" in m["content"])
    status, body = await healthz(world)
    assert "x" not in body["failing"] and body["x"] == "ok", body
    assert len(said(await control.messages(channel["id"]), "stays pending")) == 1
