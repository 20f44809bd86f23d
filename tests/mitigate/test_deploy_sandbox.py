"""The sandbox's GitHub deployments, statuses and milestones, through the bot's GitHub adapter."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.adapters.github import GitHubClient, GitHubRejected, GitHubUnavailable
from sandbox.control_client import Control, ControlError
from sandbox.world import World, WorldOptions


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A stand-in for the bot's webhook server: records what arrives at /github/webhook."""
    got: list[tuple[dict[str, str], bytes]] = []

    async def hook(request: web.Request) -> web.Response:
        got.append((dict(request.headers), await request.read()))
        return web.json_response({"status": "accepted"}, status=202)

    app = web.Application()
    app.router.add_post("/github/webhook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", got
    finally:
        await runner.cleanup()


@pytest.fixture
async def world(tmp_path: Path, receiver: Any) -> AsyncIterator[World]:
    world = World(WorldOptions(data_dir=tmp_path / "world", port=0, webhook_base_url=receiver[0]))
    await world.start()
    try:
        yield world
    finally:
        await world.stop()


@pytest.fixture
async def control(world: World) -> AsyncIterator[Control]:
    async with Control(world.base_url) as client:
        yield client


@pytest.fixture
async def github(world: World) -> AsyncIterator[GitHubClient]:
    client = GitHubClient(world.base_url, world.github.token, "atrium", "atrium")
    try:
        yield client
    finally:
        await client.close()


async def test_a_deploy_tool_report_is_a_deployment_with_a_status_and_a_signed_webhook(
    world: World, control: Control, github: GitHubClient, receiver: Any
) -> None:
    await github.create_branch("hotfix/incident-2026-03-14", "main")
    pushed = await control.request(
        "POST", "github/commits", json={"branch": "hotfix/incident-2026-03-14"}
    )
    answer = await control.request(
        "POST",
        "github/deployments",
        json={
            "ref": "hotfix/incident-2026-03-14",
            "environment": "Preview",
            "state": "success",
            "environment_url": "https://atrium-git-hotfix.vercel.app",
        },
    )
    assert answer["deployment"]["sha"] == pushed["sha"] and answer["webhook"] == 202
    [deployment] = await github.deployments(ref="hotfix/incident-2026-03-14")
    assert (deployment.sha, deployment.environment) == (pushed["sha"], "Preview")
    assert await github.deployments(ref="main") == []
    [status] = await github.deployment_statuses(deployment.id)
    assert (status.state, status.environment_url) == (
        "success",
        "https://atrium-git-hotfix.vercel.app",
    )
    limit = github.rate_limit
    assert limit is not None and limit.limit == 5000 and 0 < limit.remaining < 5000

    [(headers, body)] = receiver[1]
    expected = hmac.new(world.github.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Hub-Signature-256"] == f"sha256={expected}"
    assert headers["X-GitHub-Event"] == "deployment_status"
    event = json.loads(body)
    assert event["deployment_status"]["environment_url"] == "https://atrium-git-hotfix.vercel.app"
    assert event["deployment"]["ref"] == "hotfix/incident-2026-03-14"
    assert world.extra_secrets["INCIDENT_BOT_GITHUB_WEBHOOK_SECRETS"] == world.github.webhook_secret


async def test_deploy_control_refuses_unknown_refs_and_states(control: Control) -> None:
    for body, status in (
        ({"ref": "nope", "environment": "Preview", "state": "success"}, 404),
        ({"ref": "main", "environment": "Preview", "state": "done"}, 400),
        ({"ref": "main", "state": "success"}, 400),
    ):
        with pytest.raises(ControlError) as raised:
            await control.request("POST", "github/deployments", json=body)
        assert raised.value.status == status


async def test_milestones_schedule_issues_and_a_token_without_push_access_loses_them(
    world: World, control: Control, github: GitHubClient
) -> None:
    made = await control.request("POST", "github/milestones", json={"title": "Next sprint"})
    number = await github.milestone_number("next sprint")
    assert number == made["number"]
    assert await github.milestone_number("Someday") is None
    await github.create_issue("Ticket", "body", ["incident", "P2"], milestone=number)
    with pytest.raises(GitHubRejected) as refused:
        await github.create_issue("Ticket", "body", ["incident"], milestone=99)
    assert refused.value.status == 422
    world.github.push_access = False
    await github.create_issue("Dropped", "body", ["incident"], milestone=number)
    first, dropped = await control.github_issues()
    assert first["labels"] == ["incident", "P2"] and dropped["labels"] == []
    [milestone] = await control.request("GET", "github/milestones")
    assert milestone["issues"] == [first["number"]]  # not the one without push access


async def test_a_rate_limited_call_says_when_the_limit_resets(
    control: Control, github: GitHubClient
) -> None:
    await control.request(
        "POST", "faults", json={"kind": "rate_limit", "count": 1, "path_prefix": "/repos"}
    )
    with pytest.raises(GitHubUnavailable) as raised:
        await github.deployments(ref="main")
    assert raised.value.retry_at is not None and "rate limit" in str(raised.value)
    with pytest.raises(GitHubRejected) as missing:
        await github.branch_sha("no-such-base")
    assert missing.value.status == 404
    assert await github.branch_exists("main") and not await github.branch_exists("nope")
