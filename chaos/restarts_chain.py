"""The restarts drill's on-chain cases (chaos/drill_restarts.py): a Safe (shape b) pause
proposal and the kill switch, each killed between its steps; after each restart the step
finishes once and the effect is read on the chain."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shlex
import signal
from collections import Counter
from typing import Any

from chaos.stack import Chaos, Findings, until
from chaos.steps import (
    buttons,
    cast,
    count_in,
    declare,
    incident_of,
    one_post,
    paused,
    read,
    titles,
)

JSON_BLOCK = re.compile(r"```json\n(.*?)\n```", re.DOTALL)
COMMAND = re.compile(r"```\n(cast send .*?)\n```", re.DOTALL)
VICTIM = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"  # anvil's account 4: the compromised one
APPLIED = "✅ Mitigation applied"


def _description(message: dict[str, Any]) -> str:
    return "\n".join(e.get("description") or "" for e in message["embeds"])


def _said(answer: dict[str, Any]) -> str:
    return " ".join(r.get("content") or "" for r in answer.get("responses", []))


def _mitigation(stack: Chaos, incident: int) -> tuple[int, str]:
    """The incident's latest mitigation: (id, state)."""
    return stack.rows(
        f"SELECT id, state FROM mitigations WHERE incident_id = {incident} ORDER BY id DESC"
    )[0]


def _signed(stack: Chaos, mitigation: int) -> int:
    return stack.rows(
        "SELECT count(*) FROM mitigation_confirmations "
        f"WHERE mitigation_id = {mitigation} AND via = 'safe'"
    )[0][0]


def sign_typed(typed: dict[str, Any], key: str) -> str:
    """An owner's EIP-712 signature, as ``cast wallet sign --data`` makes it."""
    done = cast("wallet", "sign", "--data", json.dumps(typed), "--private-key", key)
    if done.returncode != 0:
        raise RuntimeError(f"cast wallet sign failed: {done.stderr[:300]}")
    return done.stdout.strip()


def run_command(command: str, key: str) -> str:
    """The bot's ``cast send … --interactive`` run with ``key`` in place of the prompt."""
    parts = shlex.split(command)[2:]
    parts[parts.index("--interactive")] = "--private-key"
    parts.insert(parts.index("--private-key") + 1, key)
    done = cast("send", *parts, "--json")
    if done.returncode != 0:
        raise RuntimeError(f"{command[:60]}… failed: {done.stderr[:300]}")
    return str(json.loads(done.stdout)["transactionHash"])


async def _mined_unseen(
    stack: Chaos,
    found: Findings,
    channel: str,
    step: str,
    post: dict[str, Any],
    signer: tuple[str, str],
) -> None:
    """The bot frozen (SIGSTOP), the command the bot's ``post`` shows run by ``signer``
    (name, key) and mined, then SIGKILL: the bot never saw the transaction. After the
    restart it must read the effect: one "Mitigation applied" naming that transaction."""
    command = COMMAND.search(_description(post)).group(1)  # type: ignore[union-attr]
    function = shlex.split(command)[3].split("(")[0]
    found.tried_(f"freeze the bot, {signer[0]} runs {function}, kill -9 ({step})")
    key = signer[1]
    incident = incident_of(stack, channel)
    os.killpg(stack.bot.pid, signal.SIGSTOP)
    try:
        tx = await asyncio.to_thread(run_command, command, key)
    finally:
        stack.kill_bot()
    state = _mitigation(stack, incident)[1]
    found.check(state == "approved", f"{step}: killed before the effect was read", state)
    found.saw(f"{step}: killed with {tx[:12]}… mined, unseen (mitigation {state})")
    await stack.start_bot()
    applied = await one_post(stack, found, channel, step, APPLIED)
    found.check(tx in _description(applied), f"{step}: the applied post names the transaction")


async def _ops_told(stack: Chaos, found: Findings, step: str, incident: int) -> None:
    ops = await stack.control.channel_id("ops-alerts")
    mine = f"{APPLIED} (incident #{incident}"
    with contextlib.suppress(TimeoutError):
        await until(lambda: count_in(stack.control, ops, mine), 30, "#ops-alerts told")
    told = sum(t.startswith(mine) for t in titles(await stack.control.messages(ops)))
    found.check(told == 1, f"{step}: #ops-alerts told once", f"{told}")


def _once_each(found: Findings, case: str, messages: list[dict[str, Any]]) -> dict[str, int]:
    """Every embed title of the case's mitigation posts appears once."""
    counts = Counter(t for t in titles(messages) if t[:1] in ("🛑", "✅", "⛓", "🔴", "🚨"))
    counts = Counter({t: n for t, n in counts.items() if not t.startswith("✅ X post")})
    twice = {t: n for t, n in counts.items() if n != 1}
    found.check(not twice, f"{case}: each step's post once", f"{twice}")
    return dict(counts)


async def safe_pause(stack: Chaos, found: Findings, chain: dict[str, Any]) -> None:
    """2. The Safe: killed between the owners' signatures, and after ``execTransaction``
    is mined but before the effect is read back."""
    control, case = stack.control, "Safe"
    bob, carol, dave = chain["signers"][:3]
    channel = await declare(stack, "Chaos restarts safe")
    incident = incident_of(stack, channel)
    alice = await control.user_id("alice")
    await control.command(alice, channel, "mitigate", "pause")
    proposal = await one_post(stack, found, channel, case, "🛑 P0 mitigation proposed (Safe)")
    typed = json.loads(JSON_BLOCK.search(_description(proposal)).group(1))  # type: ignore[union-attr]
    mitigation, _ = _mitigation(stack, incident)

    step = "between the two signatures"
    found.tried_(f"bob /mitigate sign, kill -9, restart, carol /mitigate sign ({step})")
    answer = await control.command(
        bob["user_id"], channel, "mitigate", "sign", signature=sign_typed(typed, bob["private_key"])
    )
    found.check("1 of 2" in _said(answer), f"{step}: bob's signature counted", _said(answer))
    stack.kill_bot()
    found.check(_signed(stack, mitigation) == 1, f"{step}: killed with one signature recorded")
    await stack.start_bot()
    answer = await control.command(
        carol["user_id"],
        channel,
        "mitigate",
        "sign",
        signature=sign_typed(typed, carol["private_key"]),
    )
    found.check(
        "2 of 2" in _said(answer), f"{step}: carol's signature counted after", _said(answer)
    )
    signed = await one_post(stack, found, channel, step, "✅ Signed: 2 of 2")
    step = "after execTransaction, before the effect is read"
    await _mined_unseen(stack, found, channel, step, signed, ("dave", dave["private_key"]))
    vault = chain["contracts"]["ATRIUM_VAULT"]
    found.check(paused(chain["rpc_url"], vault) == "true", f"{step}: the vault reads paused()")
    state = _mitigation(stack, incident)[1]
    found.check(state == "applied", f"{case}: the mitigation row is applied", state)
    await _ops_told(stack, found, case, incident)
    counts = _once_each(found, case, await control.messages(channel))
    found.saw(f"{case}: posts {counts}; mitigation {state}; paused() true")


async def kill_switch(stack: Chaos, found: Findings, chain: dict[str, Any]) -> None:
    """3. The kill switch: killed right after its Confirm, its post not yet on Discord; then
    after the revoke is mined but before the effect is read back."""
    control, case = stack.control, "kill switch"
    bob = chain["signers"][0]
    channel = await declare(stack, "Chaos restarts kill")
    incident = incident_of(stack, channel)
    step = "the kill switch's answer lost"
    found.tried_(
        f"/mitigate killswitch, its answer (the Confirm) held and dropped, kill -9 ({step})"
    )
    await control.fault("hold", method="POST", path_pattern=r"^/interactions/\d+/[^/]+/callback$")
    running = asyncio.create_task(
        control.command(bob["user_id"], channel, "mitigate", "killswitch", address=VICTIM)
    )
    (held,) = await stack.held(timeout=30)
    stack.kill_bot()
    await control.release(held["id"], drop=True)
    with contextlib.suppress(Exception):
        await running
    rows = stack.rows(f"SELECT state FROM mitigations WHERE incident_id = {incident}")
    found.check(rows == [("awaiting_confirm",)], f"{step}: killed with the row prepared", f"{rows}")
    found.saw(f"{step}: killed while {held['path'][:26]}… was held (dropped): no Confirm shown")
    await stack.start_bot()
    # All the runner saw was "the application did not respond": they run it again.
    await control.command(bob["user_id"], channel, "mitigate", "killswitch", address=VICTIM)

    async def confirm_button() -> tuple[str, str] | None:
        return next(
            (
                (m["id"], b)
                for m in await control.messages(channel)
                for b in buttons(m)
                if b.startswith("mitigate:confirm:")
            ),
            None,
        )

    message_id, custom_id = await until(confirm_button, 30, "the kill switch's Confirm")
    mitigation, _ = _mitigation(stack, incident)
    waiting = stack.rows(
        f"SELECT id FROM mitigations WHERE incident_id = {incident} AND state = 'awaiting_confirm'"
    )
    found.check(
        len(waiting) == 1,
        f"{step}: run again after the lost answer, one kill switch awaits confirmation",
        f"{len(waiting)} rows awaiting it: the first, never shown, stays open",
    )
    found.saw(f"{step}: run again after the restart: {len(waiting)} row(s) awaiting Confirm")

    step = "right after Confirm"
    found.tried_(f"Confirm, its 'run it now' post held before Discord, kill -9 ({step})")
    await control.fault("hold", method="POST", path_pattern=rf"^/channels/{channel}/messages$")
    pressing = asyncio.create_task(control.press(bob["user_id"], channel, message_id, custom_id))
    (held,) = await stack.held(timeout=60)
    key = f"mitigation:{mitigation}:killswitch"
    sending = stack.rows(f"SELECT state FROM outbox WHERE key = '{key}'")
    stack.kill_bot()
    await control.release(held["id"], drop=True)
    with contextlib.suppress(Exception):
        await pressing
    state = _mitigation(stack, incident)[1]
    found.check(
        (state, sending) == ("approved", [("sending",)]),
        f"{step}: killed with the confirmation recorded, its post being sent",
        f"{state}, {sending}",
    )
    found.saw(f"{step}: killed while {held['path']} was held (dropped); mitigation {state}")
    await stack.start_bot()
    told = await one_post(stack, found, channel, step, "🔴 Kill switch: run it now")
    step = "after revokeAll, before the effect is read"
    await _mined_unseen(stack, found, channel, step, told, ("bob", bob["private_key"]))
    kill = chain["contracts"]["POSTERN_KILL_SWITCH"]
    revoked = read(chain["rpc_url"], kill, "isRevoked(address)(bool)", VICTIM)
    found.check(revoked == "true", f"{step}: the account reads revoked on chain", revoked)
    blocks = await control.request("GET", "chain/blocks", limit=50)
    sent = [
        t
        for b in blocks
        for t in b["transactions"]
        if (t.get("to") or "").lower() == kill.lower() and t.get("status") == "ok"
    ]
    found.check(len(sent) == 1, f"{case}: one revokeAll on chain", f"{len(sent)}")
    state = _mitigation(stack, incident)[1]
    found.check(state == "applied", f"{case}: the mitigation row is applied", state)
    await _ops_told(stack, found, case, incident)
    counts = _once_each(found, case, await control.messages(channel))
    found.saw(f"{case}: posts {counts}; {len(sent)} revokeAll tx; isRevoked {revoked}")
