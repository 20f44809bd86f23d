"""kill -9 at each step of a P0 proposal: after the proposal's post, between the two
signers' ✅ confirmations, after the signers' transactions are mined, before the effect
is read back. After each restart the proposal must finish, one post per step, nothing
twice, the effect verified on the chain.

One P0 incident and one ``/mitigate pause`` proposal on the world's anvil (shape a, 2 of
3 signers, bound through the real ``/signer`` flow); the bot is killed four times:

1. the proposal's post is made, its answer held (``hold_after``): kill, restart;
2. bob's ✅ is counted: kill; carol reacts ✅ while the bot is down; restart;
3. bob's ``cast send`` is mined and recorded, its "1 of 2 on-chain" post held before
   Discord (``hold``, then dropped): kill, restart;
4. the bot frozen (SIGSTOP), carol's ``cast send`` mined, kill: the effect was never read
   back; restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections import Counter
from pathlib import Path

from chaos.stack import Chaos, Findings, until
from chaos.steps import cast_send, channel_of, count_in, has, paused, titles
from chaos.steps import one_post as _one
from sandbox.signers import register_signers

TITLE = "Chaos proposal vault"
STEPS = (
    "🛑 P0 mitigation proposed",
    "✅ Approved",
    "⛓️ 1 of 2",
    "⛓️ 2 of 2",
    "✅ Mitigation applied",
)


async def run(root: Path) -> Findings:
    found = Findings("proposal")
    async with Chaos(root) as stack:
        control = stack.control
        world = await control.world(refresh=True)
        chain = world.get("chain")
        if not chain:
            found.not_run = "the world has no chain (run `make node` for anvil and cast)"
            return found
        general = await control.channel_id("general")
        alice = await control.user_id("alice")
        await register_signers(control, chain, general)
        bob, carol = chain["signers"][0], chain["signers"][1]
        rpc, timelock = chain["rpc_url"], chain["contracts"]["PRAETOR_TIMELOCK"]
        vault = chain["contracts"]["ATRIUM_VAULT"]
        await control.command(alice, general, "incident", "declare", title=TITLE, severity="P0")
        channel = await channel_of(stack, TITLE)

        async def shown() -> list[str]:
            return titles(await control.messages(channel))

        async def restart(step: str) -> None:
            await stack.start_bot()
            found.saw(f"{step}: the bot restarted (start {stack.starts})")

        # 1. after the proposal's post: the post reaches Discord, its answer does not.
        step = "after the proposal's post"
        found.tried_(f"/mitigate pause, kill -9 {step}")
        posts = rf"^/channels/{channel}/messages$"
        await control.fault("hold_after", method="POST", path_pattern=posts)
        command = asyncio.create_task(control.command(alice, channel, "mitigate", "pause"))
        for _ in range(10):  # another post of the incident's may come first: let it through
            (held,) = await stack.held()
            if any(t.startswith(STEPS[0]) for t in await shown()):
                break
            await control.fault("hold_after", method="POST", path_pattern=posts)
            await control.release(held["id"])
        stack.kill_bot()
        posted = sum(t.startswith(STEPS[0]) for t in await shown())
        found.check(posted == 1, f"{step}: the held call was the proposal's post", f"{posted}")
        found.saw(f"{step}: killed while {held['method']} {held['path']} was held (posted)")
        await control.release(held["id"])
        with contextlib.suppress(Exception):
            await command
        await restart(step)
        proposal = await _one(stack, found, channel, step, STEPS[0])

        # 2. between the two confirmations: bob's counted, carol's made while the bot is down.
        step = "between the two ✅"
        found.tried_(f"bob ✅, kill -9, carol ✅ while the bot is down, restart ({step})")
        await control.react(bob["user_id"], channel, proposal["id"], "✅")
        await until(
            lambda: _confirmations(stack, "reaction") >= 1, 30, "bob's ✅ counted by the bot"
        )
        stack.kill_bot()
        await control.react(carol["user_id"], channel, proposal["id"], "✅")
        await restart(step)
        await _one(stack, found, channel, step, STEPS[1])

        # 3. after a signer's transaction is mined and recorded: bob's tx is seen by the
        # watch, its "1 of 2" post (an outbox entry, committed with the confirmation) is held
        # before Discord and dropped: the restart must tell it once.
        step = "after the transaction is mined"
        found.tried_(f"bob cast send pause(), kill -9 with its 1 of 2 post held ({step})")
        await control.fault("hold", method="POST", path_pattern=posts)
        first = cast_send(rpc, bob["private_key"], timelock, "pause()")
        (held,) = await stack.held(timeout=60)
        stack.kill_bot()
        await control.release(held["id"], drop=True)
        found.saw(f"{step}: killed while {held['method']} {held['path']} was held (dropped)")
        recorded = _confirmations(stack, "chain")
        found.check(recorded == 1, f"{step}: bob's tx was recorded before its post", f"{recorded}")
        await restart(step)
        await _one(stack, found, channel, step, STEPS[2])
        found.check(
            any(first in str(m["embeds"]) for m in await control.messages(channel)),
            f"{step}: the 1 of 2 post names bob's tx",
        )

        # 4. before the effect is read back: the bot is frozen (SIGSTOP), carol's tx mined,
        # then kill -9: the bot never looked; the restart reads the effect.
        step = "before the effect is read back"
        found.tried_(f"freeze the bot, carol cast send pause(), kill -9 ({step})")
        os.killpg(stack.bot.pid, signal.SIGSTOP)
        second = cast_send(rpc, carol["private_key"], timelock, "pause()")
        stack.kill_bot()
        before = (_confirmations(stack, "chain"), stack.rows("SELECT state FROM mitigations"))
        found.check(
            before == (1, [("approved",)]),
            f"{step}: killed before carol's tx or the effect was read",
            f"{before}",
        )
        found.saw(f"{step}: killed with carol's tx mined, unseen: {before}")
        await restart(step)
        await _one(stack, found, channel, step, STEPS[3])
        await _one(stack, found, channel, step, STEPS[4])
        posted_titles = await shown()
        found.check(paused(rpc, vault) == "true", f"{step}: the vault reads paused()")
        applied = [m for m in await control.messages(channel) if has(m, STEPS[4])]
        found.check(
            bool(applied) and second in str(applied[0]["embeds"]),
            f"{step}: the applied post names carol's tx",
        )
        ops = await control.channel_id("ops-alerts")
        with contextlib.suppress(TimeoutError):
            await until(
                lambda: count_in(control, ops, "✅ Mitigation applied (incident"),
                30,
                "#ops-alerts told",
            )
        ops_titles = titles(await control.messages(ops))
        ops_applied = sum(t.startswith("✅ Mitigation applied (incident") for t in ops_titles)
        found.check(ops_applied == 1, "#ops-alerts told once", f"{ops_applied}")

        # Nothing twice, after four kills: each step's post exactly once.
        counts = Counter(next((s for s in STEPS if t.startswith(s)), "") for t in posted_titles)
        for title in STEPS:
            found.check(counts[title] == 1, f"one {title!r} post", f"{counts[title]}")
        state = stack.rows("SELECT state FROM mitigations")
        found.check(state == [("applied",)], "the one mitigation row is applied", f"{state}")
        found.saw(f"posts in the channel: {dict(counts)}; mitigations {state}")
    return found


def _confirmations(stack: Chaos, via: str) -> int:
    return stack.rows(f"SELECT count(*) FROM mitigation_confirmations WHERE via = '{via}'")[0][0]
