"""The ops repository's remote unreachable while the plan tracker must be pushed (issue 15's
outage drill): /healthz names ``ops_repo``, #ops-alerts is told once, and the tracker is
pushed by itself once the remote is back (it was left for the next change)."""

from __future__ import annotations

import os

import pytest

from tests.e2e.helpers import healthz, text_of
from tests.follow_up.test_action_items_e2e import git
from tests.postmortem.helpers import OVERLAY, declare


@pytest.fixture
def overlay():
    return OVERLAY


def said(messages: list[dict], text: str) -> list[dict]:
    return [m for m in messages if text in (m["content"] or "")]


async def test_an_unreachable_remote_is_named_told_once_and_the_tracker_pushed_when_back(
    bot, control, world
):
    channel = await declare(control, "Remote away", "P1")
    alice, bob = await control.user_id("alice"), await control.user_id("bob")
    repo = (await control.world())["ops_repo"]["path"]
    ops = await control.channel_id("ops-alerts")
    os.rename(repo, f"{repo}.away")  # the remote is gone
    try:
        for action in ("Alert on lag", "Runbook for replays"):  # two pushes fail
            added = text_of(
                await control.command(
                    alice, channel, "followup", "add", action=action, owner=bob, due="+3d"
                )
            )
            assert "was not updated" in added and "by itself" in added, added
        await control.wait_for_message(
            ops, lambda m: "remote is unreachable" in m["content"], what="#ops-alerts told"
        )
        status, body = await healthz(world)
        assert status == 503 and "ops_repo" in body["failing"], body
    finally:
        os.rename(f"{repo}.away", repo)
    await control.wait_for_message(
        ops, lambda m: "answers again" in m["content"], timeout=30, what="the remote back"
    )
    tracker = git(repo, "show", "main:docs/plan-tracker.md")
    assert "Alert on lag" in tracker and "Runbook for replays" in tracker
    messages = await control.messages(ops)
    assert len(said(messages, "remote is unreachable")) == 1
    assert len(said(messages, "answers again")) == 1
    status, body = await healthz(world)
    assert "ops_repo" not in body["failing"] and body["ops_repo"] == "ok", body
