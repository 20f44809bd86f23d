"""The X and GitHub adapters against the sandbox world's X and GitHub (no mocks, no internet)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.adapters.github import GitHubClient, GitHubRejected, GitHubUnavailable
from bot.adapters.x import (
    TWEEPY_HOST,
    XClient,
    XCredentials,
    XRejected,
    XUnavailable,
    post_url,
)
from bot.core.locks import IncidentLocks, LockHeldAcrossCall
from sandbox.control_client import Control
from sandbox.world import World, WorldOptions


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    world = World(WorldOptions(data_dir=tmp_path / "world", port=0))
    await world.start()
    try:
        yield world
    finally:
        await world.stop()


@pytest.fixture
async def control(world: World) -> AsyncIterator[Control]:
    async with Control(world.base_url) as client:
        yield client


def credentials(world: World, **changes: str) -> XCredentials:
    x = world.x
    keys = {
        "consumer_key": x.consumer_key,
        "consumer_secret": x.consumer_secret,
        "access_token": x.access_token,
        "access_token_secret": x.access_token_secret,
    }
    return XCredentials(**{**keys, **changes})


@pytest.fixture
async def x(world: World) -> AsyncIterator[XClient]:
    client = XClient(world.base_url, credentials(world))
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def github(world: World) -> AsyncIterator[GitHubClient]:
    gh = world.github
    client = GitHubClient(world.base_url, gh.token, gh.owner, gh.repo)
    try:
        yield client
    finally:
        await client.close()


# -- the incident lock ------------------------------------------------------------------------
async def test_neither_x_nor_github_is_called_while_an_incident_lock_is_held(x, github, control):
    locks = IncidentLocks()
    async with locks.hold(7):
        with pytest.raises(LockHeldAcrossCall, match="a call to X"):
            await x.post("Investigating an issue.")
        with pytest.raises(LockHeldAcrossCall, match="a call to GitHub"):
            await github.create_issue("P3 incident: Typo", "<!-- marker -->", ["incident"])
    async with locks.hold(("ops-card", 7), across_calls=True):  # a serialiser of effects
        await x.post("Investigating an issue.")
    assert len(await control.x_posts()) == 1
    assert await control.github_issues() == []


# -- X ---------------------------------------------------------------------------------------
async def test_a_post_and_a_reply_in_its_thread_reach_the_world(x, control):
    first = await x.post("Investigating an issue.")
    reply = await x.post("Resolved.", reply_to=first.id)
    posts = await control.x_posts()
    assert [(p["id"], p["text"], p["reply_to"]) for p in posts] == [
        (first.id, "Investigating an issue.", None),
        (reply.id, "Resolved.", first.id),
    ]
    assert set(posts[0]) == {"id", "text", "reply_to", "at"}


async def test_the_signature_is_checked_so_a_wrong_secret_is_refused(world, control):
    client = XClient(world.base_url, credentials(world, consumer_secret="not-the-secret"))
    try:
        with pytest.raises(XRejected, match="401"):
            await client.post("hello")
    finally:
        await client.close()
    assert await control.x_posts() == []


async def test_an_app_only_bearer_token_cannot_post(world):
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{world.base_url}/2/tweets",
            json={"text": "hi"},
            headers={"Authorization": "Bearer app-only"},
        ) as response:
            assert response.status == 403
            assert "OAuth 1.0a User Context" in (await response.json())["detail"]


async def test_a_header_without_the_oauth_fields_is_unauthorized(world):
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{world.base_url}/2/tweets",
            json={"text": "hi"},
            headers={"Authorization": 'OAuth oauth_consumer_key="k"'},
        ) as response:
            assert response.status == 401
            assert "missing" in (await response.json())["detail"]


async def test_over_280_weighted_characters_is_refused_by_x_too(x, control):
    with pytest.raises(XRejected, match="too long"):
        await x.post("🔥" * 141)
    assert await control.x_posts() == []


async def test_a_duplicate_is_refused(x):
    await x.post("Same words.")
    with pytest.raises(XRejected, match="duplicate"):
        await x.post("Same words.")


@pytest.mark.parametrize(("kind", "says"), [("rate_limit", "429"), ("server_error", "503")])
async def test_injected_faults_are_unavailable_and_nothing_is_posted(x, control, kind, says):
    await control.fault(kind, count=1, path_prefix="/2/tweets")
    with pytest.raises(XUnavailable, match=says) as caught:
        await x.post("Investigating.")
    if kind == "rate_limit":
        assert caught.value.retry_at is not None  # from x-rate-limit-reset
    assert await control.x_posts() == []
    assert (await x.post("Investigating.")).id


async def _held_post(control: Control) -> dict:
    for _ in range(200):
        held = [h for h in await control.holds() if not h["released"]]
        if held:
            return held[0]
        await asyncio.sleep(0.01)
    raise AssertionError("no post to X was held")


async def test_a_held_post_waits_before_x_takes_it_and_a_drop_posts_nothing(x, control):
    await control.fault("hold", count=1, path_prefix="/2/tweets")
    sent = asyncio.create_task(x.post("Held before X."))
    held = await _held_post(control)
    assert (held["kind"], held["method"], held["path"]) == ("hold", "POST", "/2/tweets")
    assert await control.x_posts() == []
    await control.release(held["id"], drop=True)
    with pytest.raises(XUnavailable, match="503"):
        await sent
    assert await control.x_posts() == []


async def test_a_post_held_after_is_up_before_its_answer_comes(x, control):
    await control.fault("hold_after", count=1, path_prefix="/2/tweets")
    sent = asyncio.create_task(x.post("Up, answer held."))
    held = await _held_post(control)
    assert [p["text"] for p in await control.x_posts()] == ["Up, answer held."]
    assert not sent.done()
    await control.release(held["id"])
    assert (await sent).id == (await control.x_posts())[0]["id"]


async def test_a_discord_fault_without_a_prefix_is_not_taken_by_x(x, control):
    await control.fault("server_error", count=1)
    assert (await x.post("Still fine.")).id
    assert (await control.request("GET", "faults"))["pending"]


async def test_x_that_cannot_be_reached_is_unavailable(world):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = XClient(f"http://127.0.0.1:{port}", credentials(world))
    try:
        with pytest.raises(XUnavailable, match="cannot be reached"):
            await client.post("hello")
    finally:
        await client.close()


def _port_that_never_connects() -> tuple[socket.socket, list[socket.socket]]:
    """A listener that accepts nothing, its queue full: the kernel drops the next SYN, so a
    connect hangs, as to a stopped host behind a firewall that drops packets."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    queued: list[socket.socket] = []
    for _ in range(16):
        sock = socket.socket()
        sock.settimeout(0.5)
        try:
            sock.connect(listener.getsockname())
        except TimeoutError:  # the queue is full
            sock.close()
            return listener, queued
        queued.append(sock)
    raise AssertionError("the listener's queue never filled")


async def test_x_whose_connection_never_opens_is_unavailable_not_in_doubt(world):
    # No byte of the post left: it cannot be up, so it is retried, not left to a person.
    listener, queued = _port_that_never_connects()
    port = listener.getsockname()[1]
    client = XClient(f"http://127.0.0.1:{port}", credentials(world), timeout=2.0)
    try:
        with pytest.raises(XUnavailable, match="cannot be reached"):
            await client.post("hello")
    finally:
        await client.close()
        for sock in [listener, *queued]:
            sock.close()


def test_links_to_posts():
    assert post_url("https://x.com", "@atrium", "1") == "https://x.com/atrium/status/1"
    assert post_url("https://x.com/", None, "1") == "https://x.com/i/web/status/1"
    assert TWEEPY_HOST == "https://api.twitter.com"  # the default api_base: tweepy untouched


def test_credentials_never_print():
    assert "secret" not in repr(XCredentials("key", "secret", "token", "secret2"))


# -- GitHub ----------------------------------------------------------------------------------
async def test_an_issue_with_labels_is_listed_by_the_control_api(github, control):
    issue = await github.create_issue("P3 incident: typo", "body <!-- m:1 -->", ["incident"])
    assert issue.number == 1 and issue.labels == ("incident",) and issue.state == "open"
    [listed] = await control.github_issues()
    assert listed == {
        "number": 1,
        "title": "P3 incident: typo",
        "body": "body <!-- m:1 -->",
        "labels": ["incident"],
        "state": "open",
        "url": issue.url,
    }


async def test_an_issue_is_found_again_by_its_marker(github):
    await github.create_issue("other", "no marker", ["incident"])
    made = await github.create_issue("mine", "x <!-- incident-bot:1:7 -->", ["incident"])
    found = await github.find_issue("incident-bot:1:7")
    assert found is not None and found.number == made.number
    assert await github.find_issue("incident-bot:1:8") is None


async def test_an_issue_whose_label_github_dropped_is_still_found_by_its_marker(
    github, world, control
):
    world.github.push_access = False  # GitHub drops the labels such a token sets, silently
    made = await github.create_issue("mine", "x <!-- incident-bot:1:9 -->", ["incident"])
    assert made.labels == () and (await control.github_issues())[0]["labels"] == []
    found = await github.find_issue("incident-bot:1:9")
    assert found is not None and found.number == made.number


async def test_comments_are_added_to_an_issue(github, control):
    issue = await github.create_issue("t", "b", ["incident"])
    url = await github.comment(issue.number, "An update")
    assert url.endswith("#issuecomment-1001")
    comments = await control.request("GET", f"github/issues/{issue.number}/comments")
    assert [c["body"] for c in comments] == ["An update"]


async def test_a_branch_is_made_from_the_base_and_made_only_once(github, control):
    sha = await github.create_branch("hotfix/incident-2026-11-27", "main")
    refs = {r["ref"]: r["sha"] for r in await control.github_refs()}
    assert refs["refs/heads/hotfix/incident-2026-11-27"] == refs["refs/heads/main"] == sha
    with pytest.raises(GitHubRejected, match="422"):
        await github.create_branch("hotfix/incident-2026-11-27", "main")


async def test_a_file_is_written_to_a_branch_and_replaced_only_with_its_sha(github, control):
    await github.create_branch("pm", "main")
    await github.put_file("incidents/a.md", "# one\n", "add postmortem", "pm")
    with pytest.raises(GitHubRejected, match="409"):
        await github.put_file("incidents/a.md", "# two\n", "overwrite blindly", "pm", sha="0" * 40)
    files = await control.request("GET", "github/files", ref="pm")
    assert {"path": "incidents/a.md", "text": "# one\n"} in files
    main = await control.request("GET", "github/files", ref="main")
    assert all(f["path"] != "incidents/a.md" for f in main)


async def test_a_bad_token_is_refused_and_the_message_does_not_carry_it(world):
    gh = world.github
    client = GitHubClient(world.base_url, "ghp_wrong_token_value", gh.owner, gh.repo)
    try:
        with pytest.raises(GitHubRejected) as caught:
            await client.create_issue("t", "b")
    finally:
        await client.close()
    assert "Bad credentials" in str(caught.value) and "ghp_wrong" not in str(caught.value)


async def test_github_down_is_unavailable(github, control):
    await control.fault("server_error", count=1, path_prefix="/repos")
    with pytest.raises(GitHubUnavailable):
        await github.create_issue("t", "b")
    assert await control.github_issues() == []
