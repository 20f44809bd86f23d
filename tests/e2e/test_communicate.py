"""Procedure step 2 end to end: the comms matrix run by the real bot in the sandbox world,
with the world's X and GitHub, driven only through the control API."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

import pytest

from bot.errors import Conflict
from sandbox.control_client import Control
from tests.e2e.helpers import ALWAYS_ON_CALL as ROTATION
from tests.e2e.helpers import sql, sql_now, table_names

DOWNTIME = 2.0  # seconds: P1's "Twitter if >30min downtime", shortened
QUIET = {"escalate_after": "1h", "respond_within": "2h"}  # no pages while these tests run


def overlay_with(**severities: dict) -> dict:
    table = {name: dict(QUIET) for name in ("P0", "P1", "P2")}
    table["P1"]["comms"] = {"external_after_downtime": f"{DOWNTIME}s"}
    for name, extra in severities.items():
        table.setdefault(name, {}).update(extra)
    return {
        **ROTATION,
        "procedure": {"severities": table},
        "x": {"retry_initial": "300ms", "retry_max": "2s"},
    }


@pytest.fixture
def overlay(request, tmp_path):
    """The module's configuration; a test parametrizes it (indirectly) with a builder."""
    build = getattr(request, "param", None)
    return build(tmp_path) if build else overlay_with()


# -- helpers -------------------------------------------------------------------------------
async def declare(control: Control, title: str, severity: str, who: str = "erin") -> dict:
    general = await control.channel_id("general")
    answer = await control.command(
        await control.user_id(who), general, "incident", "declare", title=title, severity=severity
    )
    assert "eclared" in text_of(answer), answer
    slug = title.lower().replace(" ", "-")
    return await control.wait_for(
        lambda: _channel_ending(control, slug), what=f"the channel of {title}"
    )


async def _channel_ending(control: Control, slug: str) -> dict | None:
    for channel in (await control.world(refresh=True))["channels"]:
        if channel["name"].startswith("incident-") and channel["name"].endswith(slug):
            return channel
    return None


def text_of(answer: dict) -> str:
    return "\n".join(r.get("content") or "" for r in answer["responses"])


def embed_text(message: dict) -> str:
    return "\n".join(f"{e.get('title', '')}\n{e.get('description', '')}" for e in message["embeds"])


def is_approval(message: dict) -> bool:
    return any("X post" in (e.get("title") or "") for e in message["embeds"])


async def approval_request(control: Control, channel_id: str, purpose: str = "initial") -> dict:
    def matches(m: dict) -> bool:
        return is_approval(m) and any(
            purpose in ((e.get("footer") or {}).get("text") or "") for e in m["embeds"]
        )

    return await control.wait_for_message(channel_id, matches, what=f"the {purpose} approval")


def button(message: dict, label: str) -> str:
    for row in message["components"]:
        for component in row["components"]:
            if component.get("label") == label:
                return component["custom_id"]
    raise AssertionError(f"no {label!r} button on {message['id']}: {message['components']}")


async def ops_alerts(control: Control) -> list[dict]:
    return await control.messages(await control.channel_id("ops-alerts"))


async def ops_post(control: Control, channel_id: str) -> dict:
    async def find():
        for message in await ops_alerts(control):
            if message["embeds"] and f"<#{channel_id}>" in embed_text(message):
                return message
        return None

    return await control.wait_for(find, what="the #ops-alerts post")


async def x_posted(control: Control, count: int = 1) -> list[dict]:
    async def enough():
        posts = await control.x_posts()
        return posts if len(posts) >= count else None

    return await control.wait_for(enough, what=f"{count} post(s) on X")


async def approve(control: Control, who: str, channel_id: str, message: dict) -> dict:
    return await control.press(
        await control.user_id(who), channel_id, message["id"], button(message, "Approve")
    )


# -- P0: ask at once, post only after approval ---------------------------------------------
async def test_a_p0_asks_for_approval_at_once_and_posts_to_x_only_after_it(bot, control):
    channel = await declare(control, "Vault drained", "P0")
    request = await approval_request(control, channel["id"])
    assert "needs approval" in embed_text(request)
    assert "/280" in embed_text(request)
    assert await control.x_posts() == []  # asked, not posted

    alice = await control.user_id("alice")  # the commander (on call)
    answer = await approve(control, "alice", channel["id"], request)
    assert "approved the post to X" in text_of(answer)
    [post] = await x_posted(control)
    assert post["reply_to"] is None
    assert "investigating" in post["text"]
    await control.wait_for_message(
        channel["id"], lambda m: "Posted to X" in m["content"], what="the link in the channel"
    )
    done = next(m for m in await control.messages(channel["id"]) if m["id"] == request["id"])
    assert "posted" in embed_text(done) and done["components"] == []
    timeline = await _timeline(bot, channel["id"])
    posted = [e for e in timeline if e.kind == "external_posted"]
    assert len(posted) == 1 and post["id"] in posted[0].text and posted[0].actor_id == alice


async def test_resolving_a_p0_drafts_a_reply_in_the_same_thread_and_posts_it_after_approval(
    bot, control
):
    channel = await declare(control, "Oracle manipulated", "P0")
    request = await approval_request(control, channel["id"])
    await approve(control, "dave", channel["id"], request)  # dave has the comms role
    [first] = await x_posted(control)
    alice = await control.user_id("alice")
    await control.command(alice, channel["id"], "incident", "resolve", note="paused and patched")
    reply_request = await approval_request(control, channel["id"], "resolve")
    assert len(await control.x_posts()) == 1  # the reply waits for approval too
    await control.react(alice, channel["id"], reply_request["id"], "✅")
    posts = await x_posted(control, 2)
    assert posts[1]["reply_to"] == first["id"]
    assert "Resolved" in posts[1]["text"]


# -- P1: ask at 30 minutes of downtime, not before, not at all if resolved sooner ----------
async def test_a_p1_asks_once_it_has_been_down_long_enough_and_not_before(bot, control):
    channel = await declare(control, "UI unreachable", "P1")
    await ops_post(control, channel["id"])
    request = await approval_request(control, channel["id"])
    incident = await _incident(bot, channel["id"])
    asked_at = datetime.fromisoformat(request["created_at"])
    assert (asked_at - incident.down_since).total_seconds() >= DOWNTIME
    assert await control.x_posts() == []
    await approve(control, "alice", channel["id"], request)
    await x_posted(control)


@pytest.mark.parametrize(
    "overlay",
    [lambda _: overlay_with(P1={**QUIET, "comms": {"external_after_downtime": "1h"}})],
    indirect=True,
)
async def test_a_p1_counts_its_downtime_from_the_alerts_start(bot, control):
    from datetime import timedelta

    from storage.types import utcnow

    declared = await bot.services.incidents.declare(
        None, "Withdrawals failing", "P1", source="alert", down_since=utcnow() - timedelta(hours=2)
    )
    # Down for two hours already: the 1h threshold has passed, so it asks at once.
    request = await approval_request(control, declared.incident.channel_id)
    assert "needs approval" in embed_text(request)


async def test_a_p1_resolved_before_its_downtime_never_asks(bot, control):
    first = await declare(control, "Balances wrong", "P1")
    alice = await control.user_id("alice")
    assert "Resolved" in text_of(
        await control.command(alice, first["id"], "incident", "resolve", note="false alarm")
    )
    second = await declare(control, "Deposits stuck", "P1")
    # The second incident's deadline comes after the first one's: once it has asked,
    # the first would have asked too, had it not been resolved.
    await approval_request(control, second["id"])
    await bot.services.comms.idle()
    assert not any(is_approval(m) for m in await control.messages(first["id"]))
    assert await _comms_timers(bot, first["id"], "pending") == []
    assert await control.x_posts() == []


# -- P2 and P3: internal only --------------------------------------------------------------
async def test_a_p2_is_announced_only_in_ops_alerts(bot, control):
    channel = await declare(control, "Swaps degraded", "P2")
    post = await ops_post(control, channel["id"])
    text = embed_text(post)
    assert "P2" in text and "Performance degradation" in text and f"<#{channel['id']}>" in text
    await bot.services.comms.idle()
    assert not any(is_approval(m) for m in await control.messages(channel["id"]))
    assert await _comms_timers(bot, channel["id"], "pending") == []
    assert await control.github_issues() == []
    assert await control.x_posts() == []


async def test_a_p3_opens_one_github_issue_labelled_incident_linking_the_channel(bot, control):
    channel = await declare(control, "Typo on the FAQ", "P3")
    [issue] = await control.wait_for(control.github_issues, what="the GitHub issue")
    # Scheduled for the next sprint (bot/mitigate/ticket.py): no milestone configured.
    assert issue["labels"] == ["incident", "P3", "next-sprint"] and issue["state"] == "open"
    assert issue["title"] == "P3 incident: Typo on the FAQ"
    assert channel["name"] in issue["body"] and channel["id"] in issue["body"]
    await control.wait_for_message(
        channel["id"], lambda m: f"#{issue['number']}" in m["content"], what="the issue's link"
    )
    incident = await _incident(bot, channel["id"])
    assert (incident.github_issue_number, incident.github_issue_url) == (
        issue["number"],
        issue["url"],
    )
    assert not any(f"<#{channel['id']}>" in embed_text(m) for m in await ops_alerts(control))
    await bot.restart()
    await bot.services.comms.idle()
    assert len(await control.github_issues()) == 1
    assert await control.x_posts() == []


async def test_a_p3_finds_the_issue_an_interrupted_run_opened_instead_of_opening_another(
    bot, control, world
):
    from bot.adapters.github import GitHubClient

    gh = world.github
    client = GitHubClient(gh.describe()["api_base"], gh.token, gh.owner, gh.repo)
    try:  # what a run that stopped right after GitHub answered would have left
        await client.create_issue(
            "P3 incident: Logo blurry", f"<!-- incident-bot:{world.guild_id}:1 -->", ["incident"]
        )
    finally:
        await client.close()
    channel = await declare(control, "Logo blurry", "P3")
    await control.wait_for_message(
        channel["id"], lambda m: "GitHub issue" in m["content"], what="the issue's link"
    )
    assert len(await control.github_issues()) == 1
    assert (await _incident(bot, channel["id"])).github_issue_number == 1


async def test_a_p3_finds_its_issue_even_when_github_dropped_the_label(bot, control, world):
    from bot.adapters.github import GitHubClient

    gh = world.github
    gh.push_access = False  # the bot's token cannot push: GitHub drops labels, silently
    client = GitHubClient(gh.describe()["api_base"], gh.token, gh.owner, gh.repo)
    try:  # a create that timed out on the bot's side after GitHub had made the issue
        await client.create_issue(
            "P3 incident: Modal clipped", f"<!-- incident-bot:{world.guild_id}:1 -->", ["incident"]
        )
    finally:
        await client.close()
    channel = await declare(control, "Modal clipped", "P3")
    told = await control.wait_for_message(
        channel["id"], lambda m: "GitHub issue" in m["content"], what="the issue's link"
    )
    assert "dropped the `incident` label" in told["content"]
    assert len(await control.github_issues()) == 1
    assert (await _incident(bot, channel["id"])).github_issue_number == 1


async def test_a_p3_resolved_while_github_is_down_still_gets_its_ticket(bot, control):
    await control.fault("server_error", count=1, path_prefix="/repos")
    channel = await declare(control, "Banner overlaps", "P3")
    await control.wait_for(
        lambda: _retrying_github_issue(bot, channel["id"]), what="a failed first try, retrying"
    )
    alice = await control.user_id("alice")
    answer = await control.command(alice, channel["id"], "incident", "resolve", note="css fix")
    assert "Resolved" in text_of(answer)
    [issue] = await control.wait_for(control.github_issues, timeout=15, what="the ticket")
    assert issue["labels"][0] == "incident" and channel["id"] in issue["body"]
    await control.wait_for_message(
        channel["id"], lambda m: f"#{issue['number']}" in m["content"], what="the issue's link"
    )
    comments = await control.wait_for(
        lambda: control.request("GET", f"github/issues/{issue['number']}/comments"),
        what="the resolution on the issue",
    )
    assert "Resolved in Discord" in comments[0]["body"]
    await bot.services.comms.idle()
    assert len(await control.github_issues()) == 1
    assert await _comms_timers(bot, channel["id"], "pending") == []


async def test_a_p3_whose_issue_timer_was_cancelled_at_resolution_gets_it_at_start(bot, control):
    await control.fault("server_error", count=1, path_prefix="/repos")
    channel = await declare(control, "Tooltip cut", "P3")
    await control.wait_for(
        lambda: _retrying_github_issue(bot, channel["id"]), what="a failed first try, retrying"
    )
    await bot.stop()
    # resolved by a run that cancelled every timer
    await sql(bot, "UPDATE incidents SET status='resolved', resolved_at=declared_at")
    await sql(bot, "UPDATE timers SET state='cancelled' WHERE state='pending'")
    await bot.start()
    [issue] = await control.wait_for(control.github_issues, timeout=15, what="the ticket")
    assert channel["id"] in issue["body"]
    await control.wait_for_message(  # sent once the issue is recorded
        channel["id"], lambda m: f"#{issue['number']}" in m["content"], what="the issue's link"
    )
    assert (await _incident(bot, channel["id"])).github_issue_number == issue["number"]


async def test_an_issue_opened_while_the_bot_stopped_is_found_by_its_marker_not_reopened(
    bot, control
):
    channel = await declare(control, "Label misread", "P3")
    [issue] = await control.wait_for(control.github_issues, what="the GitHub issue")
    await control.wait_for_message(channel["id"], lambda m: "GitHub issue" in m["content"])
    await bot.services.comms.idle()
    await bot.stop()
    # stopped while GitHub had the request
    await sql(bot, "UPDATE outbox SET state='sending', result='{}' WHERE kind='github_issue'")
    await sql(bot, "UPDATE incidents SET github_issue_number=NULL, github_issue_url=NULL")
    await bot.start()

    async def recorded():
        return (await _incident(bot, channel["id"])).github_issue_number

    assert await control.wait_for(recorded, what="the issue recorded") == issue["number"]
    assert len(await control.github_issues()) == 1
    states = await sql(bot, "SELECT state FROM outbox WHERE kind='github_issue'")
    assert states == [("done",)]


async def test_github_down_for_a_moment_still_opens_the_issue_once(bot, control):
    await control.fault("server_error", count=1, path_prefix="/repos")
    channel = await declare(control, "Footer misaligned", "P3")
    await control.wait_for_message(
        channel["id"], lambda m: "GitHub issue" in m["content"], timeout=15, what="the issue"
    )
    assert len(await control.github_issues()) == 1


# -- the #ops-alerts post follows the incident ---------------------------------------------
async def test_the_ops_alerts_post_follows_the_incident_by_edits_never_reposts(bot, control):
    channel = await declare(control, "Bridge delayed", "P2")
    post = await ops_post(control, channel["id"])
    alice, carol = await control.user_id("alice"), await control.user_id("carol")
    assert "Declared, not acknowledged" in embed_text(post)
    await control.command(alice, channel["id"], "incident", "ack")
    await control.command(alice, channel["id"], "incident", "severity", level="P1")
    await control.command(alice, channel["id"], "incident", "commander", member=carol)
    await control.command(carol, channel["id"], "incident", "resolve", note="relayer restarted")
    await bot.services.comms.idle()
    mine = [m for m in await ops_alerts(control) if f"<#{channel['id']}>" in embed_text(m)]
    assert [m["id"] for m in mine] == [post["id"]]
    text = embed_text(mine[0])
    assert "P1 · Bridge delayed" in text and "Service down" in text
    assert f"**Commander:** <@{carol}>" in text and "**Status:** Resolved" in text
    assert mine[0]["edited_at"] is not None


async def test_an_incident_whose_announcement_was_lost_gets_it_at_start_once(bot, control):
    incidents = bot.services.incidents
    listeners = list(incidents._listeners)
    incidents._listeners.clear()  # as if the bot had stopped before the comms phase ran
    declared = await incidents.declare(None, "Fees miscomputed", "P2")
    incidents._listeners.extend(listeners)
    channel_id = declared.incident.channel_id
    assert not any(f"<#{channel_id}>" in embed_text(m) for m in await ops_alerts(control))
    await bot.restart()
    await ops_post(control, channel_id)
    await bot.restart()  # a second start finds the post and does not announce again
    await bot.services.comms.idle()
    mine = [m for m in await ops_alerts(control) if f"<#{channel_id}>" in embed_text(m)]
    assert len(mine) == 1


# -- status updates and reminders ----------------------------------------------------------
async def test_a_status_update_goes_to_the_channel_and_where_the_matrix_says(bot, control):
    channel = await declare(control, "Pool paused", "P1")
    alice = await control.user_id("alice")
    answer = await control.command(
        alice, channel["id"], "incident", "update", text="Root cause found; fix deploying."
    )
    assert "this channel and #ops-alerts" in text_of(answer)
    assert answer["responses"][-1]["ephemeral"]
    here = await control.wait_for_message(
        channel["id"], lambda m: "Root cause found" in m["content"], what="the update here"
    )
    assert "Status update · P1 · Pool paused" in here["content"]
    ops = [m for m in await ops_alerts(control) if "Root cause found" in m["content"]]
    assert len(ops) == 1 and f"<#{channel['id']}>" in ops[0]["content"]
    await bot.services.comms.idle()
    post = await ops_post(control, channel["id"])
    assert "Latest update" in embed_text(post) and "Root cause found" in embed_text(post)


async def test_a_p3_update_is_added_to_its_github_issue(bot, control):
    channel = await declare(control, "Wrong icon", "P3")
    [issue] = await control.wait_for(control.github_issues, what="the issue")
    await control.wait_for_message(channel["id"], lambda m: "GitHub issue" in m["content"])
    alice = await control.user_id("alice")
    answer = await control.command(
        alice, channel["id"], "incident", "update", text="Fixed in the next release."
    )
    assert "the GitHub issue" in text_of(answer)
    comments = await control.request("GET", f"github/issues/{issue['number']}/comments")
    assert len(comments) == 1 and "Fixed in the next release." in comments[0]["body"]
    assert not any("Fixed in the next release" in m["content"] for m in await ops_alerts(control))


async def test_an_over_long_update_is_refused_with_its_count(bot, control):
    channel = await declare(control, "Charts empty", "P2")
    alice = await control.user_id("alice")
    answer = await control.command(alice, channel["id"], "incident", "update", text="x" * 1600)
    said = text_of(answer)
    assert "1,600 characters" in said and "1,500" in said and "by 100" in said
    assert answer["responses"][-1]["ephemeral"]
    assert not any("Status update" in m["content"] for m in await control.messages(channel["id"]))


async def test_a_bystander_cannot_post_an_update(bot, control):
    channel = await declare(control, "Search broken", "P2")
    frank = await control.user_id("frank")
    answer = await control.command(frank, channel["id"], "incident", "update", text="hi")
    assert "may post a status update" in text_of(answer)


@pytest.mark.parametrize(
    "overlay",
    [lambda _: overlay_with(P2={**QUIET, "comms": {"update_every": "1s"}})],
    indirect=True,
)
async def test_the_commander_is_reminded_to_post_updates_while_open(bot, control):
    channel = await declare(control, "Indexer lagging", "P2")
    alice = await control.user_id("alice")
    reminder = await control.wait_for_message(
        channel["id"], lambda m: "time for a status update" in m["content"], what="a reminder"
    )
    assert (
        f"<@{alice}>" in reminder["content"] and "None has been posted yet" in reminder["content"]
    )
    await control.command(alice, channel["id"], "incident", "update", text="Reindexing.")
    await control.wait_for_message(
        channel["id"],
        lambda m: "time for a status update" in m["content"] and "The last one was" in m["content"],
        what="a reminder counted from the update",
    )
    await control.command(alice, channel["id"], "incident", "resolve")
    await bot.services.comms.idle()
    assert await _comms_timers(bot, channel["id"], "pending") == []


# -- approval: who, how, how often ---------------------------------------------------------
async def test_approval_by_someone_without_the_role_is_refused_said_why_and_recorded(bot, control):
    channel = await declare(control, "Admin key used", "P0")
    request = await approval_request(control, channel["id"])
    answer = await approve(control, "frank", channel["id"], request)
    said = text_of(answer)
    assert "Only the incident commander or members with the `comms` role may approve" in said
    assert answer["responses"][-1]["ephemeral"]
    bob = await control.user_id("bob")  # on call, but neither commander nor comms
    await control.react(bob, channel["id"], request["id"], "✅")
    told = await control.wait_for_message(
        channel["id"], lambda m: m["content"].startswith("**Bob"), what="bob's refusal"
    )
    assert "Only the incident commander or members with the `comms` role" in told["content"]
    refused = [e for e in await _timeline(bot, channel["id"]) if e.kind == "external_refused"]
    assert {e.actor_id for e in refused} == {bob, await control.user_id("frank")}
    assert await control.x_posts() == []
    current = next(m for m in await control.messages(channel["id"]) if m["id"] == request["id"])
    assert button(current, "Approve")  # still waiting for a real approval


@pytest.mark.parametrize(
    "overlay",
    [lambda _: {**overlay_with(), "permissions": {"approve_external": ["paged"]}}],
    indirect=True,
)
async def test_someone_paged_for_the_incident_may_approve_where_the_rule_names_them(bot, control):
    channel = await declare(control, "Collateral mispriced", "P0")
    request = await approval_request(control, channel["id"])
    refused = await approve(control, "frank", channel["id"], request)  # never paged
    assert "Only whoever was paged may approve" in text_of(refused)
    answer = await approve(control, "alice", channel["id"], request)  # paged as the primary
    assert "approved the post to X" in text_of(answer)
    await x_posted(control)


async def test_a_refused_check_mark_is_removed_and_its_author_told_once_by_name(bot, control):
    channel = await declare(control, "Oracle frozen", "P0")
    request = await approval_request(control, channel["id"])
    kickoff = (await control.messages(channel["id"]))[0]
    bob, frank = await control.user_id("bob"), await control.user_id("frank")

    async def refusals() -> list[dict]:
        messages = await control.messages(channel["id"])
        return [m for m in messages if m["content"].startswith(("**Bob", "**Frank"))]

    for _ in range(2):  # a second toggle tells nobody again
        await control.react(bob, channel["id"], request["id"], "✅")  # may not approve
        await control.react(frank, channel["id"], kickoff["id"], "✅")  # may not acknowledge
        await control.wait_for(
            lambda: _reactors(control, channel["id"], request["id"], "✅", without=bob),
            what="bob's ✅ removed",
        )
        await control.wait_for(
            lambda: _reactors(control, channel["id"], kickoff["id"], "✅", without=frank),
            what="frank's ✅ removed",
        )
    await bot.restart()  # remembered in the database, not in memory
    await control.react(bob, channel["id"], request["id"], "✅")
    await control.wait_for(
        lambda: _reactors(control, channel["id"], request["id"], "✅", without=bob),
        what="bob's ✅ removed after the restart",
    )
    await bot.services.comms.idle()
    told = await refusals()
    assert sorted(m["content"][:6] for m in told) == ["**Bob ", "**Fran"]
    assert all(f"<@{bob}>" not in m["content"] and f"<@{frank}>" not in m["content"] for m in told)
    bobs = next(m for m in told if m["content"].startswith("**Bob"))
    assert "Only the incident commander or members with the `comms` role" in bobs["content"]
    franks = next(m for m in told if m["content"].startswith("**Frank"))
    assert "may acknowledge" in franks["content"]
    refused = [e for e in await _timeline(bot, channel["id"]) if e.kind == "external_refused"]
    assert len(refused) == 3  # every attempt is recorded; the person is told once
    assert await control.x_posts() == []
    assert (await _incident(bot, channel["id"])).acknowledged_at is None


async def test_a_check_mark_that_beats_the_bot_storing_its_request_still_approves(bot, control):
    """The ✅ can reach the bot before it has stored the approval message's id (stored
    right after Discord answers the send): the message's footer names the draft."""
    out = bot.services.discord
    send, go, handled = out.send, asyncio.Event(), asyncio.Event()

    async def slow_send(*args, **kwargs):  # Discord answered; the bot has not stored it yet
        message_id = await send(*args, **kwargs)
        if "needs approval" in (kwargs.get("content") or ""):
            await go.wait()
        return message_id

    comms = bot.services.comms
    by_reaction = comms.approve_by_reaction

    async def noting(*args, **kwargs):
        try:
            return await by_reaction(*args, **kwargs)
        finally:
            handled.set()

    out.send, comms.approve_by_reaction = slow_send, noting
    channel = await declare(control, "Vault paused", "P0")
    request = await approval_request(control, channel["id"])
    await control.react(await control.user_id("alice"), channel["id"], request["id"], "✅")
    await asyncio.wait_for(handled.wait(), 10)
    go.set()
    [post] = await x_posted(control)
    assert "investigating" in post["text"]


async def test_approving_twice_posts_once(bot, control):
    channel = await declare(control, "Bridge exploit", "P0")
    request = await approval_request(control, channel["id"])
    first, second = await asyncio.gather(
        approve(control, "alice", channel["id"], request),
        approve(control, "dave", channel["id"], request),
    )
    said = text_of(first) + "\n" + text_of(second)
    assert said.count("approved the post to X") == 1 and "Already" in said
    await x_posted(control)
    # X has the post; the bot records it once X's answer is read, then says so.
    await control.wait_for_message(channel["id"], lambda m: "Posted to X" in m["content"])
    dave = await control.user_id("dave")
    await control.react(dave, channel["id"], request["id"], "✅")
    post_id = int(button(request, "Approve").split(":")[2])
    again = await bot.services.comms.approve(post_id, dave, "test")
    assert again.approved_now is False and again.post.state == "posted"
    await bot.services.comms.idle()
    assert len(await control.x_posts()) == 1
    posted_lines = [
        m for m in await control.messages(channel["id"]) if "Posted to X" in m["content"]
    ]
    assert len(posted_lines) == 1


async def test_an_approver_edits_the_draft_in_a_modal_first(bot, control):
    channel = await declare(control, "Price feed stale", "P0")
    request = await approval_request(control, channel["id"])
    dave = await control.user_id("dave")

    async def edit(text: str) -> dict:
        opened = await control.press(dave, channel["id"], request["id"], button(request, "Edit"))
        modal = opened["responses"][0]
        assert modal["type"] == 9
        return await control.submit_modal(dave, channel["id"], modal["custom_id"], {"text": text})

    too_long = await edit("Atrium update: " + "🔥" * 140)
    assert "295/280" in text_of(too_long) and "not changed" in text_of(too_long)
    link = "https://status.atrium.example/incidents/" + "a" * 80
    edited = await edit(f"Atrium: price updates are delayed; funds are safe. Details: {link}")
    assert "edited the draft" in text_of(edited)
    refreshed = next(m for m in await control.messages(channel["id"]) if m["id"] == request["id"])
    assert "/status.atrium.example/" in embed_text(refreshed)
    assert "**83/280**" in embed_text(refreshed)  # the 120-character link counts 23
    frank = await control.user_id("frank")
    refused = await control.press(frank, channel["id"], request["id"], button(request, "Edit"))
    assert "may edit" in text_of(refused)
    # A click from a view of the old text approves nothing: approvers approve what they read.
    _, _, post_id, shown = button(request, "Approve").split(":")
    with pytest.raises(Conflict, match="edited after this button was shown"):
        await bot.services.comms.approve(int(post_id), dave, "button", shown)
    await approve(control, "dave", channel["id"], refreshed)
    [post] = await x_posted(control)
    assert post["text"].endswith(link)


async def test_a_check_mark_added_before_an_edit_approves_nothing(bot, control):
    channel = await declare(control, "Lending paused", "P0")
    request = await approval_request(control, channel["id"])
    dave = await control.user_id("dave")
    messages, approvals = bot.services.comms.messages, bot.services.comms.approvals
    editing, go, reacted = asyncio.Event(), asyncio.Event(), asyncio.Event()
    refresh, approve_post = messages.refresh, approvals.approve

    async def slow_refresh(*args, **kwargs):  # the edit holds the incident while Discord works
        if not go.is_set():
            editing.set()
            await go.wait()
        return await refresh(*args, **kwargs)

    async def noting_approve(*args, **kwargs):
        reacted.set()
        return await approve_post(*args, **kwargs)

    messages.refresh, approvals.approve = slow_refresh, noting_approve
    opened = await control.press(dave, channel["id"], request["id"], button(request, "Edit"))
    new_text = "Atrium: lending is paused while we investigate; funds are safe."
    edit = asyncio.create_task(
        control.submit_modal(
            dave, channel["id"], opened["responses"][0]["custom_id"], {"text": new_text}
        )
    )
    await asyncio.wait_for(editing.wait(), 5)
    # ✅ on the message as it still shows the old text; it waits for the edit to finish.
    await control.react(dave, channel["id"], request["id"], "✅")
    await asyncio.wait_for(reacted.wait(), 5)
    go.set()
    assert "edited the draft" in text_of(await edit)
    refusal = await control.wait_for_message(
        channel["id"],
        lambda m: m["content"].startswith("**Dave") and "edited" in m["content"],
        what="the refusal, in the channel",
    )
    assert "approves nothing" in refusal["content"] and "Approve" in refusal["content"]
    assert f"<@{dave}>" not in refusal["content"]  # named, not pinged
    await bot.services.comms.idle()
    assert await control.x_posts() == []
    # The refused ✅ was taken off; one added after the edit approves the text now shown.
    await control.wait_for(
        lambda: _reactors(control, channel["id"], request["id"], "✅", without=dave),
        what="the refused ✅ removed",
    )
    await control.react(dave, channel["id"], request["id"], "✅")
    [post] = await x_posted(control)
    assert post["text"] == new_text


@pytest.mark.parametrize("left", ["the ask in flight", "no ask queued"])
async def test_an_approval_request_sent_but_not_recorded_is_found_not_sent_again(
    bot, control, left
):
    channel = await declare(control, "Staking halted", "P0")
    request = await approval_request(control, channel["id"])
    await bot.services.comms.idle()
    await bot.stop()
    # stopped between the send and storing its id
    await sql(bot, "UPDATE external_posts SET approval_message_id = NULL")
    if left == "the ask in flight":
        await sql(bot, "UPDATE timers SET state='firing', attempts=1 WHERE kind='comms_ask'")
    else:
        await sql(bot, "DELETE FROM timers WHERE kind='comms_ask'")
    await bot.start()

    async def recorded():
        from sqlalchemy import select

        from storage.models import ExternalPost

        async with bot.services.sessions() as session:
            return await session.scalar(select(ExternalPost.approval_message_id))

    assert await control.wait_for(recorded, what="the request recorded") == request["id"]
    await bot.services.comms.idle()
    approvals = [m for m in await control.messages(channel["id"]) if is_approval(m)]
    assert [m["id"] for m in approvals] == [request["id"]]
    await approve(control, "alice", channel["id"], request)
    await x_posted(control)


def _long_template(tmp_path):  # type: ignore[no-untyped-def]
    path = tmp_path / "x_declare.txt.j2"
    path.write_text("{{ product }} is investigating: " + "details " * 40)
    return {**overlay_with(), "templates": {"x_declare.txt.j2": str(path)}}


@pytest.mark.parametrize("overlay", [_long_template], indirect=True)
async def test_a_draft_over_280_is_flagged_before_anyone_approves_and_cannot_be_approved(
    bot, control
):
    channel = await declare(control, "Exploit suspected", "P0")
    request = await approval_request(control, channel["id"])
    text = embed_text(request)
    assert "Atrium is investigating: details" in text  # the team's template, by path
    assert "**344/280**" in text and "64 too many" in text
    answer = await approve(control, "alice", channel["id"], request)
    assert "344/280" in text_of(answer) and "Edit" in text_of(answer)
    await bot.services.comms.idle()
    assert await control.x_posts() == []


async def test_a_draft_is_withdrawn_when_the_incident_is_downgraded_before_approval(bot, control):
    channel = await declare(control, "Pause called", "P0")
    request = await approval_request(control, channel["id"])
    alice = await control.user_id("alice")
    await control.command(alice, channel["id"], "incident", "severity", level="P2")
    await bot.services.comms.idle()
    withdrawn = next(m for m in await control.messages(channel["id"]) if m["id"] == request["id"])
    assert "withdrawn" in embed_text(withdrawn) and withdrawn["components"] == []
    assert "P2 incidents are not announced externally" in embed_text(withdrawn)
    post_id = int(button(request, "Approve").split(":")[2])
    with pytest.raises(Conflict, match="withdrawn"):
        await bot.services.comms.approve(post_id, alice, "test")
    assert await control.x_posts() == []


async def test_reopening_withdraws_the_reply_draft_and_resolving_again_asks_anew(bot, control):
    channel = await declare(control, "Governance hijack", "P0")
    await approve(control, "alice", channel["id"], await approval_request(control, channel["id"]))
    [first] = await x_posted(control)
    alice = await control.user_id("alice")
    await control.command(alice, channel["id"], "incident", "resolve")
    old_reply = await approval_request(control, channel["id"], "resolve")
    await control.command(alice, channel["id"], "incident", "reopen")
    await bot.services.comms.idle()
    old = next(m for m in await control.messages(channel["id"]) if m["id"] == old_reply["id"])
    assert "reopened" in embed_text(old) and old["components"] == []
    await control.command(alice, channel["id"], "incident", "resolve")

    async def new_reply():
        for message in await control.messages(channel["id"]):
            if message["id"] != old_reply["id"] and "resolve" in str(message["embeds"]):
                if message["components"]:
                    return message
        return None

    again = await control.wait_for(new_reply, what="a new reply draft")
    await approve(control, "alice", channel["id"], again)
    posts = await x_posted(control, 2)
    assert posts[1]["reply_to"] == first["id"] and len(posts) == 2


# -- X failing -----------------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "status"), [("rate_limit", 429), ("server_error", 503)])
async def test_an_x_outage_keeps_the_post_pending_tells_the_channel_and_retries_once(
    bot, control, kind, status
):
    channel = await declare(control, "Frontend down", "P0")
    request = await approval_request(control, channel["id"])
    await control.fault(kind, count=2, path_prefix="/2/tweets")
    await approve(control, "alice", channel["id"], request)
    told = await control.wait_for_message(
        channel["id"], lambda m: "stays pending" in m["content"], what="the channel being told"
    )
    assert str(status) in told["content"] or "unavailable" in told["content"]
    await x_posted(control)
    await control.wait_for_message(channel["id"], lambda m: "Posted to X" in m["content"])
    seen = [r["status"] for r in await control.request("GET", "x/requests")]
    assert seen == [status, status, 201]
    assert len(await control.x_posts()) == 1
    assert sum("stays pending" in m["content"] for m in await control.messages(channel["id"])) == 1


@pytest.mark.manual_clock
async def test_a_restart_while_x_is_down_posts_the_approved_post_once(bot, control, clock):
    channel = await declare(control, "Keeper offline", "P0")
    request = await approval_request(control, channel["id"])
    await control.fault("server_error", count=3, path_prefix="/2/tweets")
    await approve(control, "alice", channel["id"], request)
    await control.wait_for_message(channel["id"], lambda m: "stays pending" in m["content"])
    # The bot's clock stands still until the restart is over: no retry falls due during
    # it, so the restart finds the post waiting for X, never cut off while X has it (on a
    # loaded machine a real-time retry did land in the restart). The timer that made the
    # first try ends after the message above: the restart waits for it (one cut off then
    # runs again beside the retry's timer, and the second run marks the post in doubt).
    await control.wait_for(lambda: _no_timer_firing(bot), what="the first try's timer settled")
    await bot.restart()

    async def posted() -> list[dict]:
        clock.advance(timedelta(seconds=1))  # each look lets the next retry fall due
        return await control.x_posts()

    # Each retry is a few hops through the bot and X: seconds apart on a loaded machine.
    await control.wait_for(posted, timeout=60, interval=0.2, what="the post on X")
    await bot.services.comms.idle()
    assert [r["status"] for r in await control.request("GET", "x/requests")] == [503] * 3 + [201]
    assert len(await control.x_posts()) == 1


async def _no_timer_firing(bot) -> bool:  # type: ignore[no-untyped-def]
    return not await sql(bot, "SELECT 1 FROM timers WHERE state = 'firing'")


async def stopped_while_x_had_it(bot, control, title: str) -> dict:  # type: ignore[no-untyped-def]
    """A P0 whose approved post was with X when the bot stopped (its row left
    ``publishing``), the bot started again: the warning the channel is given."""
    channel = await declare(control, title, "P0")
    await approval_request(control, channel["id"])
    await bot.stop()
    await sql(bot, "UPDATE external_posts SET state='publishing', approved_by='1', attempts=1")
    await bot.start()
    return await control.wait_for_message(
        channel["id"], lambda m: "may or may not be up" in m["content"], what="the warning"
    )


async def test_a_post_in_flight_when_the_bot_stopped_is_never_sent_again_by_itself(bot, control):
    told = await stopped_while_x_had_it(bot, control, "Relayer hacked")
    assert "approve again" in told["content"]
    await bot.services.comms.idle()
    assert await control.x_posts() == []


# -- secrets -------------------------------------------------------------------------------
async def test_x_and_github_secrets_appear_in_no_row_message_or_log_line(
    bot, control, world, caplog
):
    caplog.set_level(logging.DEBUG)
    secrets = [v for k, v in world.extra_secrets.items() if "_X_" in k or "GITHUB" in k]
    assert len(secrets) == 6  # four X keys, the GitHub token, its webhook secret
    answers = []
    p0 = await declare(control, "Treasury drained", "P0")
    request = await approval_request(control, p0["id"])
    answers.append(await approve(control, "alice", p0["id"], request))
    await x_posted(control)
    p3 = await declare(control, "Tooltip typo", "P3")
    await control.wait_for(control.github_issues, what="the issue")
    alice = await control.user_id("alice")
    answers.append(await control.command(alice, p3["id"], "incident", "update", text="Queued."))
    world.x.consumer_secret = "rotated"  # X now refuses the bot's signature: the error path
    answers.append(await control.command(alice, p0["id"], "incident", "resolve"))
    reply = await approval_request(control, p0["id"], "resolve")
    answers.append(await approve(control, "alice", p0["id"], reply))
    await control.wait_for_message(p0["id"], lambda m: "did not go out" in m["content"])
    await bot.services.comms.idle()

    stored = "\n".join(
        repr(row) for table in table_names(bot) for row in sql_now(bot, f"SELECT * FROM {table}")
    )
    discord_text = ""
    for channel in (await control.world(refresh=True))["channels"]:
        if channel["type"] == 0:
            discord_text += repr(await control.messages(channel["id"]))
    discord_text += repr(answers)
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records) + caplog.text
    assert "signature does not match" in stored  # the failure was recorded...
    for secret in secrets:  # ...and no secret anywhere
        assert secret not in stored
        assert secret not in discord_text
        assert secret not in logged


async def _reactors(control: Control, channel_id: str, message_id: str, emoji: str, without: str):
    """True once ``without`` has no ``emoji`` on the message."""
    for message in await control.messages(channel_id):
        if message["id"] == message_id:
            return not any(
                r["emoji"] == emoji and without in r["user_ids"] for r in message["reactions"]
            )
    return False


async def _incident(bot, channel_id: str):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from storage.models import Incident

    async with bot.services.sessions() as session:
        return await session.scalar(select(Incident).where(Incident.channel_id == channel_id))


async def _retrying_github_issue(bot, channel_id: str) -> bool:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from storage.models import Timer

    incident = await _incident(bot, channel_id)
    if incident is None:
        return False
    async with bot.services.sessions() as session:
        rows = await session.scalars(
            select(Timer).where(
                Timer.incident_id == incident.id,
                Timer.kind == "comms_github_issue",
                Timer.state == "pending",
                Timer.attempts >= 1,
            )
        )
        return bool(list(rows))


async def _comms_timers(bot, channel_id: str, state: str) -> list[str]:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from storage.models import Timer

    incident = await _incident(bot, channel_id)
    async with bot.services.sessions() as session:
        rows = await session.scalars(
            select(Timer.kind).where(
                Timer.incident_id == incident.id,
                Timer.state == state,
                Timer.kind.like("comms_%"),
            )
        )
        return list(rows)


async def _timeline(bot, channel_id: str):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from storage.models import TimelineEvent

    incident = await _incident(bot, channel_id)
    async with bot.services.sessions() as session:
        rows = await session.scalars(
            select(TimelineEvent)
            .where(TimelineEvent.incident_id == incident.id)
            .order_by(TimelineEvent.id)
        )
        return list(rows)
