"""Restarts in the middle of an X approval, a Safe (shape b) proposal and the kill switch:
each step happens once, and what cannot be known is said, never redone blindly.

One world with a Safe (``--chain-shape b``: a Safe v1.4.1 of the three signers owns the
timelock), the signers bound through ``/signer``; four P0 incidents, the bot killed with
SIGKILL eight times:

1. X approvals (here):
   a. the draft's approval request posted, its answer held (``hold_after``): kill,
      restart; then **Approve** (as erin, ``comms``): one X post;
   b. the resolution reply approved, X takes the post and its answer is held
      (``hold_after`` on ``/2/tweets``): kill, restart: still one post on X, the draft in
      doubt and the channel told once (the outbox's rule, bot/core/outbox.py: a post X
      may have taken when the bot died is never sent again by itself; a person looks);
   c. another draft (edited: X refuses the same words twice) approved, the post held
      before X takes it (``hold``), kill, dropped, restart: in doubt and told, nothing on
      X; approved again: one post;
2. the Safe (chaos/restarts_chain.py): bob's signature counted, kill, restart,
   carol signs; the bot frozen (SIGSTOP), dave runs the ``execTransaction``, kill,
   restart: one post per step, the vault reads ``paused()``;
3. the kill switch (the same module): its answer (the Confirm) held and dropped, kill,
   restart, run again; **Confirm** with its "run it now" post held before Discord
   (``hold``, then dropped), kill, restart; the bot frozen, bob's ``revokeAll`` mined,
   kill, restart: one post per step, one ``revokeAll`` on chain, the account revoked.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from pathlib import Path
from typing import Any

from chaos.restarts_chain import kill_switch, safe_pause
from chaos.stack import Chaos, Findings, until
from chaos.steps import buttons, declare, incident_of
from sandbox.signers import register_signers

ASKED = "a post to X needs approval"
POSTED = "📣 Posted to X"
REPLIED = "📣 Replied on X"
STOPPED = "the bot stopped while X had the request"
POSTS = r"^/channels/\d+/messages$"


async def run(root: Path) -> Findings:
    found = Findings("restarts")
    async with Chaos(root, world_args=("--chain-shape", "b")) as stack:
        world = await stack.control.world(refresh=True)
        chain = world.get("chain")
        if not chain:
            found.not_run = "the world has no chain (run `make node` for anvil and cast)"
            return found
        found.check(chain.get("shape") == "b", "the world's chain is a Safe (shape b)")
        await register_signers(stack.control, chain, await stack.control.channel_id("general"))
        channel = await x_asked(stack, found)
        await x_in_flight(stack, found, channel)
        await x_dropped(stack, found)
        await safe_pause(stack, found, chain)
        await kill_switch(stack, found, chain)
        found.figures["bot_starts"] = stack.starts
    return found


def draft(stack: Chaos, incident: int, purpose: str = "initial") -> tuple[int, str, str | None]:
    """The incident's X draft of ``purpose`` (``initial``, or ``resolve``: the reply):
    (id, state, approval message id); zeros before it exists."""
    rows = stack.rows(
        "SELECT id, state, approval_message_id FROM external_posts "
        f"WHERE incident_id = {incident} AND purpose = '{purpose}' ORDER BY id LIMIT 1"
    )
    return rows[0] if rows else (0, "", None)


def asked(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if ASKED in m["content"]]


def saying(messages: list[dict[str, Any]], text: str) -> int:
    return sum(text in m["content"] for m in messages)


async def approve(stack: Chaos, channel: str, message_id: str) -> dict[str, Any]:
    """Press **Approve** on the draft's approval message as erin (``comms``), once the
    message has the button (after a restart the bot puts it back when it is told)."""

    async def button() -> tuple[dict[str, Any], str] | None:
        (message,) = [m for m in await stack.control.messages(channel) if m["id"] == message_id]
        found = [b for b in buttons(message) if b.startswith("comms:approve:")]
        return (message, found[0]) if found else None

    message, custom_id = await until(button, 60, "the Approve button")
    erin = await stack.control.user_id("erin")
    return await stack.control.press(erin, channel, message["id"], custom_id)


async def x_asked(stack: Chaos, found: Findings) -> str:
    """1a. Killed once the approval request is in the channel but before the bot heard so."""
    control, step = stack.control, "X approval asked"
    found.tried_(f"P0 declared, kill -9 with the approval request posted, answer held ({step})")
    title = "Chaos restarts x asked"
    await control.fault("hold_after", method="POST", path_pattern=POSTS)
    declaring = asyncio.create_task(declare(stack, title))
    channel, slug = None, title.lower().replace(" ", "-")
    for _ in range(20):  # the kickoff and #ops-alerts posts come first: let them through
        (held,) = await stack.held(timeout=60)
        channel = channel or next(
            (c["id"] for c in await stack.incident_channels() if c["name"].endswith(slug)), None
        )
        if channel and asked(await control.messages(channel)):
            break
        await control.fault("hold_after", method="POST", path_pattern=POSTS)
        await control.release(held["id"])
    stack.kill_bot()
    await control.release(held["id"])
    with contextlib.suppress(Exception):
        await declaring
    assert channel is not None
    incident = incident_of(stack, channel)
    post_id, state, message_id = draft(stack, incident)
    found.check(
        (state, message_id) == ("awaiting_approval", None)
        and len(asked(await control.messages(channel))) == 1,
        f"{step}: killed with the request posted but its id never stored",
        f"{state}, {message_id}",
    )
    found.saw(f"{step}: killed while {held['path']} was held; draft #{post_id} {state}, no id")
    await stack.start_bot()
    await until(lambda: draft(stack, incident)[2], 60, "the approval request's id stored")
    await stack.sleep(3)  # a second request would be posted by now
    requests = asked(await control.messages(channel))
    found.check(len(requests) == 1, f"{step}: the approval request posted once", f"{len(requests)}")
    found.check(
        draft(stack, incident)[2] == requests[0]["id"],
        f"{step}: the restart found its own request again (look-back by its footer)",
    )
    before = len(await control.x_posts())
    answer = await approve(stack, channel, requests[0]["id"])
    found.saw(f"{step}: Approve pressed after the restart: {_said(answer)[:80]!r}")
    await until(lambda: _says(control, channel, POSTED), 60, "the post to X after the approval")
    await stack.sleep(3)
    messages = await control.messages(channel)
    made = len(await control.x_posts()) - before
    found.check(made == 1, f"{step}: approving published exactly one X post", f"{made}")
    found.check(saying(messages, POSTED) == 1, f"{step}: 'Posted to X' told once")
    found.check(draft(stack, incident)[1] == "posted", f"{step}: the draft is posted")
    found.saw(f"{step}: {made} X post, {saying(messages, POSTED)} 'Posted to X' message")
    return channel


async def x_in_flight(stack: Chaos, found: Findings, channel: str) -> None:
    """1b. Killed while X has taken the post and its answer is on its way: the incident's
    second X post, its resolution reply (X refuses a text it has just posted, so another
    incident's status post, the same words, cannot serve)."""
    control, step = stack.control, "X publish in flight"
    incident = incident_of(stack, channel)
    alice = await control.user_id("alice")
    await control.command(alice, channel, "incident", "resolve", note="paused and verified")
    await until(lambda: draft(stack, incident, "resolve")[2], 60, "the reply's approval request")
    found.tried_(f"Approve, X takes the post, its answer held, kill -9 ({step})")
    before = len(await control.x_posts())
    await control.fault("hold_after", path_prefix="/2/tweets")
    pressing = asyncio.create_task(
        approve(stack, channel, str(draft(stack, incident, "resolve")[2]))
    )
    (held,) = await stack.held(timeout=60)
    stack.kill_bot()
    with contextlib.suppress(Exception):
        await pressing
    await control.release(held["id"])
    post_id, state, _ = draft(stack, incident, "resolve")
    entries = stack.rows(
        f"SELECT state FROM outbox WHERE kind = 'x_post' AND incident_id = {incident} "
        f"AND key LIKE 'x_post:{post_id}:%'"
    )
    up = len(await control.x_posts()) - before
    found.check(
        (state, entries, up) == ("publishing", [("sending",)], 1),
        f"{step}: killed with the post on X and the outbox row sending",
        f"{state}, {entries}, {up} on X",
    )
    found.saw(f"{step}: killed while {held['path']} was held: the post is up, the bot never knew")
    await stack.start_bot()
    await until(
        lambda: draft(stack, incident, "resolve")[1] not in ("approved", "publishing"),
        60,
        "the restart to settle the post in flight",
    )
    await stack.sleep(4)  # a re-send (which the design forbids) would have happened by now
    post_id, state, _ = draft(stack, incident, "resolve")
    messages = await control.messages(channel)
    made = len(await control.x_posts()) - before
    told = saying(messages, STOPPED)
    found.check(made == 1, f"{step}: exactly one X post (never re-sent)", f"{made}")
    found.check(
        state in ("posted", "in_doubt"), f"{step}: the post is posted or in doubt", f"{state}"
    )
    if state == "in_doubt":
        found.check(told == 1, f"{step}: the channel told once that it is in doubt", f"{told}")
        found.check(
            "did not go out" not in _line(messages, STOPPED),
            f"{step}: the channel is not told the post did not go out (it is up)",
        )
    else:
        found.check(saying(messages, REPLIED) == 1, f"{step}: 'Replied on X' told once")
    titles = Counter(e.get("title") for m in asked(messages) for e in m["embeds"])
    found.saw(
        f"{step}: after the restart draft #{post_id} is {state}; {made} X post; the channel "
        f"told {told} time(s) ({_line(messages, STOPPED)!r}); approval message {dict(titles)}"
    )


async def x_dropped(stack: Chaos, found: Findings) -> None:
    """1c. Killed while X holds the post before taking it; X never gets it. The bot cannot
    tell that from 1b: in doubt, told; a person sees no post and approves again."""
    control, step = stack.control, "X publish dropped"
    channel = await declare(stack, "Chaos restarts x dropped")
    incident = incident_of(stack, channel)
    await until(lambda: draft(stack, incident)[2], 60, "the approval request")
    # Another incident's status post has the same words, which X refuses: edit it first.
    erin = await control.user_id("erin")
    message_id = str(draft(stack, incident)[2])
    (message,) = [m for m in await control.messages(channel) if m["id"] == message_id]
    edit = next(b for b in buttons(message) if b.startswith("comms:edit:"))
    modal = (await control.press(erin, channel, message_id, edit))["responses"][0]
    text = "Atrium status: we are looking into a second issue. Funds are safe; updates follow."
    await control.submit_modal(erin, channel, modal["custom_id"], {"text": text})
    found.tried_(f"Approve, the post held before X takes it, kill -9, dropped ({step})")
    before = len(await control.x_posts())
    await control.fault("hold", path_prefix="/2/tweets")
    pressing = asyncio.create_task(approve(stack, channel, message_id))
    (held,) = await stack.held(timeout=60)
    stack.kill_bot()
    with contextlib.suppress(Exception):
        await pressing
    await control.release(held["id"], drop=True)
    await stack.start_bot()
    await until(lambda: draft(stack, incident)[1] == "in_doubt", 60, "the post in doubt")
    # The row is in doubt at the outbox's recovery; its timer tells the channel after.
    await until(lambda: _says(control, channel, STOPPED), 60, "the channel told it is in doubt")
    await stack.sleep(3)  # a second telling would have come by now
    messages = await control.messages(channel)
    made = len(await control.x_posts()) - before
    found.check(made == 0, f"{step}: nothing on X, nothing re-sent", f"{made}")
    found.check(saying(messages, STOPPED) == 1, f"{step}: the channel told once it is in doubt")
    found.tried_(f"no post on the account: Approve again ({step})")
    await approve(stack, channel, message_id)
    await until(lambda: _says(control, channel, POSTED), 60, "the post after approving again")
    await stack.sleep(3)
    made = len(await control.x_posts()) - before
    told = saying(await control.messages(channel), POSTED)
    found.check(made == 1, f"{step}: approving again published exactly one post", f"{made}")
    found.check(told == 1, f"{step}: 'Posted to X' told once", f"{told}")
    found.saw(f"{step}: in doubt with nothing on X, told; approved again: {made} post")


async def _says(control: Any, channel: str, text: str) -> bool:
    return saying(await control.messages(channel), text) > 0


def _said(answer: dict[str, Any]) -> str:
    return " ".join(r.get("content") or "" for r in answer.get("responses", []))


def _line(messages: list[dict[str, Any]], text: str) -> str:
    return next((m["content"] for m in messages if text in m["content"]), "")
