"""Outside systems stopped in turn: each named by /healthz, told once, the work resumes.

- GitHub answers 5xx to the bot's next requests (fault ``server_error`` on ``/repos``)
  while a P3 is declared, so its ticket cannot be opened; then GitHub refuses connections
  while another P3 is declared, and then it hangs (accepts, never answers) for a third;
- X answers 5xx (``/2/tweets``) while an approved post of a P0 is published; then X
  refuses connections while another P0's approved post is published, and then its
  connections are never made (the SYN dropped, as behind a firewall) for a third;
- the ops repository's remote is moved away (its bare repository renamed) while an action
  item is added, so the plan tracker cannot be pushed.

For each the drill reads /healthz while it fails (the system named in ``failing``), lets
it recover (the faults run out, the repository moved back, the port listens again) and
checks the work is done once, /healthz is healthy again and a channel was told of the
outage once. The bot reaches GitHub and X through loopback forwarders the drill owns
(chaos/forward.py): closing one's port is a stopped service, as ECONNREFUSED; it is
started again only once the bot has tried at least twice against the closed port.

- the chain's RPC stops answering: the world's anvil is frozen (SIGSTOP, SIGCONT after;
  killing it would lose the chain) while the chain watch reads it.

For the RPC, "told once" is the watch's "stopped" in #ops-alerts (and "resumed" after).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from chaos.forward import Forwarder
from chaos.stack import Chaos, Findings, until
from chaos.stops import THROUGH, Stop, fault, hung, refused, unreachable

FAILURES = 4
X_FAILURES = 2  # X's backoff starts at 5 s and doubles: 15 s of outage
# The chain watch on (it reads the RPC every second), so an RPC outage is seen and told.
# A frozen RPC is a request that times out: 3 s, not the default 10 s, per look.
WATCH = """
[mitigate.chain]
request_timeout = "3s"
[watch]
poll_every = "1s"
[watch.contracts.ATRIUM_VAULT]
address = "ATRIUM_VAULT"
"""


async def run(root: Path) -> Findings:
    found = Findings("outage")
    github, x = Forwarder(), Forwarder()
    for forwarder in (github, x):
        await forwarder.start()
    try:
        async with Chaos(root, WATCH + THROUGH.format(github=github.port, x=x.port)) as stack:
            world = urlsplit(stack.control.base_url)
            for forwarder in (github, x):
                forwarder.aim(world.hostname or "127.0.0.1", world.port or 80)
            await _github(stack, found, fault(stack, "/repos", FAILURES))
            await _github(stack, found, refused(stack, found, github, "github_issue"))
            await _github(stack, found, hung(stack, found, github))
            await _x(stack, found, fault(stack, "/2/tweets", X_FAILURES))
            await _x(stack, found, refused(stack, found, x, "x_post"))
            await _x(stack, found, unreachable(stack, found, x, "x_post"))
            for drill in (_ops_repo, _rpc):
                await drill(stack, found)
    finally:
        for forwarder in (github, x):
            await forwarder.stop()
    return found


async def _named(stack: Chaos, found: Findings, system: str) -> None:
    """Until /healthz names ``system`` among the failing parts (checked, and said)."""
    named: list[dict[str, Any]] = []

    async def names_it() -> bool:
        body = await stack.health_any()
        if system in body.get("failing", ()):
            named.append(body)
            return True
        return False

    try:
        await until(names_it, 60, f"/healthz to name {system}")
    except TimeoutError:
        pass
    found.check(bool(named), f"/healthz names {system}", "never named")
    if named:
        found.saw(f"/healthz while {system} fails: failing {named[0].get('failing')}")


async def _healthy_again(stack: Chaos, found: Findings, system: str) -> bool:
    async def healthy() -> bool:
        body = await stack.health_any()
        return body.get("status") == "ok" and system not in body.get("failing", ())

    try:
        await until(healthy, 60, "/healthz healthy again")
        recovered = True
    except TimeoutError:
        recovered = False
    found.check(recovered, f"/healthz is healthy again once {system} is back")
    return recovered


async def _wait(probe: Callable[[], Awaitable[Any]], timeout: float, what: str) -> Any:
    try:
        return await until(probe, timeout, what)
    except TimeoutError:
        return None


async def _github(stack: Chaos, found: Findings, stop: Stop) -> None:
    control = stack.control
    erin = await control.user_id("erin")
    general = await control.channel_id("general")
    ops = await control.channel_id("ops-alerts")
    title = f"{stop.title} ticket"
    found.tried_(f"GitHub {stop.how}; a P3 is declared ({title})")
    await stop.begin()
    ops_before = len(await control.messages(ops))
    await control.command(erin, general, "incident", "declare", title=title, severity="P3")
    await _named(stack, found, "github")
    await stop.end()

    async def ticket() -> list[dict] | None:
        issues = [i for i in await control.github_issues() if title in i["title"]]
        return issues or None

    issues = await _wait(ticket, 120, "the ticket once GitHub is back") or []
    found.check(len(issues) == 1, "the work resumes by itself: one ticket", f"{len(issues)}")
    recovered = await _healthy_again(stack, found, "github")
    await asyncio.sleep(1)
    channel = await _channel(stack, _slug(title))
    seen = (await control.messages(ops))[ops_before:]
    seen += await control.messages(channel) if channel else []
    told = _told_once(found, seen, "github", "GitHub")
    found.saw(f"{len(issues)} ticket, healthy again {recovered}, told {told} time(s)")


async def _x(stack: Chaos, found: Findings, stop: Stop) -> None:
    control = stack.control
    erin, alice = await control.user_id("erin"), await control.user_id("alice")
    general = await control.channel_id("general")
    title = f"{stop.title} post"
    await control.command(erin, general, "incident", "declare", title=title, severity="P0")
    channel = await _wait(lambda: _channel(stack, _slug(title)), 60, "the P0's channel")
    request = await _wait(lambda: _approval(stack, channel), 60, "the X approval request")
    if channel is None or request is None:
        found.check(False, f"X: the P0 asks for an approval ({title})", "no approval request")
        return
    if stop.title != "Chaos":  # its own text: X refuses a duplicate of a recent post, and
        # two P0s declared in the same minute are drafted alike ("since 10:23")
        request = await _edited(stack, channel, request, f"Atrium: {title} drill, investigating.")
    found.tried_(f"X {stop.how}; the P0's post is approved ({title})")
    await stop.begin()
    posts_before = len(await control.x_posts())
    await control.press(alice, channel, request["id"], _button(request, "Approve"))
    await _named(stack, found, "x")
    await stop.end()

    async def posted() -> list[dict] | None:
        posts = await control.x_posts()
        return posts[posts_before:] or None

    posts = await _wait(posted, 120, "the post on X once X is back") or []
    found.check(len(posts) == 1, "the work resumes by itself: one post on X", f"{len(posts)}")
    recovered = await _healthy_again(stack, found, "x")
    await asyncio.sleep(1)
    told = _told_once(found, await control.messages(channel), "stays pending", "X")
    found.saw(f"{len(posts)} post, healthy again {recovered}, told {told} time(s)")


async def _ops_repo(stack: Chaos, found: Findings) -> None:
    control = stack.control
    alice, bob = await control.user_id("alice"), await control.user_id("bob")
    ops = await control.channel_id("ops-alerts")
    channel = await _channel(stack, "chaos-post")
    repo = (await control.world())["ops_repo"]["path"]
    found.tried_("the ops repository's remote moved away; an action item is added")
    ops_before = len(await control.messages(ops))
    os.rename(repo, f"{repo}.away")
    try:
        await control.command(
            alice, channel, "followup", "add", action="Chaos tracker row", owner=bob, due="+3d"
        )
        await _named(stack, found, "ops_repo")
    finally:
        os.rename(f"{repo}.away", repo)

    async def pushed() -> bool:
        process = await asyncio.create_subprocess_exec(
            "git", "-C", repo, "show", "main:docs/plan-tracker.md",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        out, _ = await process.communicate()
        return b"Chaos tracker row" in out

    done = bool(await _wait(pushed, 120, "the tracker pushed once the remote is back"))
    found.check(done, "the work resumes by itself: the tracker pushed")
    recovered = await _healthy_again(stack, found, "ops_repo")
    await asyncio.sleep(1)
    seen = (await control.messages(ops))[ops_before:]
    told = _told_once(found, seen, "ops repository", "the ops repository")
    found.saw(f"tracker pushed {done}, healthy again {recovered}, told {told} time(s)")


async def _rpc(stack: Chaos, found: Findings) -> None:
    control = stack.control
    ops = await control.channel_id("ops-alerts")
    anvil = _anvil(stack)
    if not anvil:
        found.check(False, "the RPC: the world's anvil found", "no anvil in the world's group")
        return
    found.tried_(f"the world's anvil frozen (SIGSTOP, pids {anvil}) while the watch reads it")
    ops_before = len(await control.messages(ops))
    for pid in anvil:
        os.kill(pid, signal.SIGSTOP)
    try:
        await _named(stack, found, "rpc")
        await _wait(lambda: _ops_saying(stack, ops_before, "watch stopped"), 60, "told")
    finally:
        for pid in anvil:
            os.kill(pid, signal.SIGCONT)
    resumed = await _wait(lambda: _ops_saying(stack, ops_before, "watch resumed"), 90, "resumed")
    found.check(bool(resumed), "the work resumes by itself: the watch resumed")
    recovered = await _healthy_again(stack, found, "rpc")
    await asyncio.sleep(2)
    told = len(await _ops_saying(stack, ops_before, "watch stopped") or [])
    found.check(told == 1, "the RPC outage is told once (#ops-alerts)", f"told {told} time(s)")
    found.saw(f"watch resumed {bool(resumed)}, healthy again {recovered}, told {told} time(s)")


def _anvil(stack: Chaos) -> list[int]:
    """The anvil processes of the world this drill started (its process group)."""
    group = stack.processes[0].pid  # the world, started in a session of its own
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            if os.getpgid(int(entry.name)) == group and b"anvil" in cmdline:
                found.append(int(entry.name))
        except (OSError, ProcessLookupError):
            continue
    return found


async def _ops_saying(stack: Chaos, since: int, text: str) -> list[dict] | None:
    messages = (await stack.control.messages(await stack.control.channel_id("ops-alerts")))[since:]
    return [m for m in messages if text in (m["content"] + str(m["embeds"])).lower()] or None


async def _edited(stack: Chaos, channel: str, request: dict, text: str) -> dict:
    """The draft edited to ``text`` by dave (Edit, its modal); the request as it is now."""
    dave = await stack.control.user_id("dave")
    opened = await stack.control.press(dave, channel, request["id"], _button(request, "Edit"))
    modal = opened["responses"][0]
    await stack.control.submit_modal(dave, channel, modal["custom_id"], {"text": text})
    messages = await stack.control.messages(channel)
    return next(m for m in messages if m["id"] == request["id"])


def _button(message: dict, label: str) -> str:
    return next(
        c["custom_id"]
        for row in message["components"]
        for c in row["components"]
        if c.get("label") == label
    )


def _slug(title: str) -> str:
    return title.lower().replace(" ", "-")


async def _channel(stack: Chaos, suffix: str) -> str | None:
    for c in await stack.incident_channels():
        if c["name"].endswith(suffix):
            return str(c["id"])
    return None


async def _approval(stack: Chaos, channel: str | None) -> dict | None:
    if channel is None:
        return None
    for m in await stack.control.messages(channel):
        if any("X post" in (e.get("title") or "") for e in m["embeds"]) and m["components"]:
            return m
    return None


def _told_once(found: Findings, messages: list[dict], system: str, what: str) -> int:
    """Checks the messages about ``system`` failing are one; how many they are."""
    told = [m for m in messages if _about_the_outage(m["content"] + str(m["embeds"]), system)]
    found.check(
        len(told) == 1,
        f"the {what} outage is told once (#ops-alerts or the incident channel)",
        f"told {len(told)} time(s): {[(m['content'] or str(m['embeds']))[:120] for m in told]}",
    )
    return len(told)


def _about_the_outage(text: str, system: str) -> bool:
    """A message saying ``system`` fails (not the kickoff, not the work's own link)."""
    lowered = text.lower()
    return system in lowered and any(
        word in lowered
        for word in ("fail", "could not", "unavailable", "unreachable", "retr", "down", "error")
    )
