"""The hotfix's deploys followed in the sandbox: the deploy tool's reports arrive by the signed
webhook or by polling; preview posted, failure posted, production recorded with the
commander asked; ``/mitigate deployed url:`` by hand; bad signatures and outages."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot.mitigate.hotfix import POLL
from sandbox.control_client import Control
from storage.fixes import FixDeployment
from storage.models import Timer
from tests.mitigate.test_hotfix_e2e import declare, fix_overlay, run, timeline

PREVIEW = "https://atrium-git-hotfix-atrium.vercel.app"
PRODUCTION = "https://app.atrium.invalid"


@pytest.fixture
def overlay() -> dict[str, Any]:
    return fix_overlay(poll_every="10m")


async def hotfix(control: Control, title: str) -> tuple[str, str]:
    """An incident with its hotfix branch and one commit pushed to it: (channel, branch)."""
    channel, day = await declare(control, title)
    await run(control, channel, "hotfix")
    branch = f"hotfix/incident-{day}"
    await control.request("POST", "github/commits", json={"branch": branch, "message": "Fix"})
    return channel, branch


async def deploy(control: Control, ref: str, environment: str, state: str, url: str = "") -> Any:
    body = {"ref": ref, "environment": environment, "state": state, "environment_url": url}
    return await control.request("POST", "github/deployments", json=body)


async def rows(bot: Any) -> list[FixDeployment]:
    async with bot.services.sessions() as session:
        return list(await session.scalars(select(FixDeployment)))


async def faults_left(control: Control, count: int) -> bool:
    return len((await control.request("GET", "faults"))["pending"]) == count


async def has(control: Control, channel: str, text: str) -> bool:
    return any(text in m["content"] for m in await control.messages(channel))


async def advance_until(control: Control, clock: Any, probe: Any, step: int = 16) -> None:
    """Move the bot's clock ``step`` minutes at a time until ``probe`` holds (the bot acts on
    each move before the next: a timer rescheduled late is not skipped)."""
    for _ in range(12):
        clock.advance(timedelta(minutes=step))
        try:
            await control.wait_for(probe, timeout=1.0)
            return
        except TimeoutError:
            continue
    raise AssertionError("the bot never got there")


def said(text: str):  # type: ignore[no-untyped-def]
    return lambda m: text in m["content"]


async def test_preview_failure_and_production_arrive_by_the_webhook(bot, control):
    channel, branch = await hotfix(control, "Withdrawals failing")
    answer = await deploy(control, branch, "Preview", "in_progress")
    assert answer["webhook"] == 202  # nothing to say yet
    answer = await deploy(control, branch, "Preview", "success", PREVIEW)
    assert answer["webhook"] == 202
    preview = await control.wait_for_message(channel, said("**Fix deployed to preview**"))
    assert (
        PREVIEW in preview["content"]
        and "https://vercel.com/atrium/deployments" in (preview["content"])
    )

    await control.request("POST", "github/commits", json={"branch": branch, "message": "Oops"})
    await deploy(control, branch, "Preview", "failure", "https://vercel.com/atrium/logs/2")
    failed = await control.wait_for_message(channel, said("**Deploy failed**"))
    assert "`failure`" in failed["content"]

    alice = await control.user_id("alice")  # the commander (on call)
    await deploy(control, branch, "Production", "success", PRODUCTION)
    done = await control.wait_for_message(channel, said("**Fix deployed to production**"))
    assert f"<@{alice}>" in done["content"] and "is service restored" in done["content"]
    [event] = await timeline(bot, channel, "fix_production")
    assert event.text == f"Fix deployed to production: {PRODUCTION}"
    assert [e.text for e in await timeline(bot, channel, "fix_preview")] == [
        f"Fix deployed to preview: {PREVIEW}"
    ]
    assert len(await timeline(bot, channel, "fix_deploy_failed")) == 1


async def test_a_webhook_with_a_bad_signature_is_401_and_records_nothing(bot, control, world):
    channel, branch = await hotfix(control, "Login broken")
    sha = next(r["sha"] for r in await control.github_refs() if r["ref"] == f"refs/heads/{branch}")
    event = {
        "deployment": {"id": 99, "sha": sha, "ref": branch, "environment": "Production"},
        "deployment_status": {"id": 9999, "state": "success", "environment_url": PRODUCTION},
        "repository": {"full_name": "atrium/atrium"},
    }
    body = json.dumps(event).encode()
    url = f"{world.options.webhook_base_url}/github/webhook"
    wrong = hmac.new(b"not the secret", body, hashlib.sha256).hexdigest()
    right = hmac.new(world.github.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
    async with aiohttp.ClientSession() as http:
        for headers in (
            {"X-Hub-Signature-256": f"sha256={wrong}"},
            {},  # unsigned
        ):
            headers["X-GitHub-Event"] = "deployment_status"
            async with http.post(url, data=body, headers=headers) as answer:
                assert answer.status == 401
                assert "X-Hub-Signature-256" in (await answer.json())["error"]
        assert await rows(bot) == []
        signed = {"X-GitHub-Event": "deployment_status", "X-Hub-Signature-256": f"sha256={right}"}
        async with http.post(url, data=body, headers=signed) as answer:
            assert answer.status == 202
        async with http.post(url, data=body, headers=signed) as again:  # a redelivery
            assert again.status == 202 and (await again.json())["status"] == "ignored"
    assert len(await rows(bot)) == 1
    await control.wait_for_message(channel, said("**Fix deployed to production**"))


@pytest.mark.manual_clock
async def test_polling_finds_the_deploys_and_an_outage_is_told_once(bot, control, world, clock):
    channel, branch = await hotfix(control, "Balances wrong")
    world.options.webhook_base_url = None  # no webhook: only polling can see the deploys
    await deploy(control, branch, "Preview", "success", PREVIEW)
    clock.advance(timedelta(minutes=10))
    await control.wait_for_message(channel, said("**Fix deployed to preview**"))

    await control.request(
        "POST", "faults", json={"kind": "server_error", "count": 3, "path_prefix": "/repos"}
    )
    await deploy(control, branch, "Production", "success", PRODUCTION)
    # Three polls fail (each backs off longer), the channel hears once, then it is seen.
    await advance_until(control, clock, lambda: faults_left(control, 0))
    await advance_until(
        control, clock, lambda: has(control, channel, "**Fix deployed to production**")
    )
    messages = await control.messages(channel)
    assert sum("GitHub does not answer" in m["content"] for m in messages) == 1
    assert sum("**Fix deployed to preview**" in m["content"] for m in messages) == 1


async def test_a_promotion_recorded_by_hand(bot, control):
    channel, _ = await hotfix(control, "Charts blank")
    answer = await run(control, channel, "deployed", url="ftp://nope")
    assert "`url` must be the production URL" in answer
    assert await timeline(bot, channel, "fix_production") == []
    answer = await run(control, channel, "deployed", url=PRODUCTION)
    assert f"live in production at {PRODUCTION}" in answer
    erin = await control.user_id("erin")
    message = await control.wait_for_message(channel, said("**Fix deployed to production**"))
    assert f"recorded by <@{erin}>" in message["content"]
    [event] = await timeline(bot, channel, "fix_production")
    assert event.actor_id == erin and event.data["via"] == "hand"


async def next_poll(bot: Any) -> Any:
    async with bot.services.sessions() as session:
        return await session.scalar(
            select(Timer.due_at).where(Timer.kind == POLL, Timer.state == "pending")
        )


@pytest.mark.manual_clock
async def test_polling_waits_for_the_reset_when_the_rate_limit_runs_low(bot, control, world, clock):
    channel, branch = await hotfix(control, "Invoices late")
    world.options.webhook_base_url = None
    world.github.rate_limit_remaining = 60  # below [fix] rate_limit_reserve (100)
    await deploy(control, branch, "Preview", "success", PREVIEW)
    await advance_until(
        control, clock, lambda: has(control, channel, "**Fix deployed to preview**")
    )
    await deploy(control, branch, "Production", "success", PRODUCTION)
    left = world.github.rate_limit_remaining

    async def waits_for_the_reset() -> bool:
        due = await next_poll(bot)
        return due is not None and due > clock.now() + timedelta(minutes=30)

    clock.advance(timedelta(minutes=10))
    await control.wait_for(waits_for_the_reset, what="the poll moved to the limit's reset")
    assert world.github.rate_limit_remaining == left  # no call spent meanwhile
    assert not await has(control, channel, "**Fix deployed to production**")
    await advance_until(
        control, clock, lambda: has(control, channel, "**Fix deployed to production**"), step=20
    )
