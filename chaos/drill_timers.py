"""Restart with pending timers: each fires exactly once.

A P1 incident (its escalation and response clock), a resolved P2 (its postmortem
reminders and deadline) and an action item (its reminders) leave timers pending. The
bot is killed with SIGKILL, every pending timer is made overdue in the database while
it is down, and the bot is started again: each timer must fire once (done, one
attempt), the escalation page must reach the secondary once, and a second kill -9 and
restart must fire nothing again (no bot message repeated or added by a timer).

Not covered here: X approvals, multisig proposals and the kill switch across a restart
(drills ``proposal``, shape a, and ``restarts``: X, the Safe of shape b, the kill switch).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from chaos.stack import Chaos, Findings, until

PAST = "2000-01-01 00:00:00.000000"


async def run(root: Path) -> Findings:
    found = Findings("timers")
    async with Chaos(root) as stack:
        control = stack.control
        erin, alice, bob = [await control.user_id(n) for n in ("erin", "alice", "bob")]
        general = await control.channel_id("general")
        declared = (
            ("Chaos timers one", "P1"),
            ("Chaos timers two", "P2"),
            ("Chaos timers three", "P1"),
        )
        for title, severity in declared:
            await control.command(
                erin, general, "incident", "declare", title=title, severity=severity
            )
        channels = {c["name"]: c["id"] for c in await stack.incident_channels()}
        one = next(i for n, i in channels.items() if n.endswith("chaos-timers-one"))
        two = next(i for n, i in channels.items() if n.endswith("chaos-timers-two"))
        await control.command(
            alice, two, "followup", "add", action="Add a runbook", owner=bob, due="+3d"
        )
        await control.command(alice, two, "incident", "resolve", note="fixed")
        three = next(i for n, i in channels.items() if n.endswith("chaos-timers-three"))
        await control.command(alice, three, "incident", "resolve", note="fixed")
        await asyncio.sleep(2)
        kinds = Counter(k for (k,) in stack.rows("SELECT kind FROM timers WHERE state = 'pending'"))
        found.tried_(f"kill -9 with pending timers {dict(kinds)}, all made overdue, restart")
        stack.kill_bot()
        with_db(stack, f"UPDATE timers SET due_at = '{PAST}' WHERE state = 'pending'")
        overdue = [r[0] for r in stack.rows(f"SELECT id FROM timers WHERE due_at = '{PAST}'")]
        ids = ",".join(map(str, overdue))
        await stack.start_bot()

        def fired() -> bool:
            left = stack.rows(
                f"SELECT count(*) FROM timers WHERE id IN ({ids}) "
                "AND state IN ('pending', 'firing')"
            )[0][0]
            return left == 0

        try:
            await until(fired, 60, "the overdue timers to fire")
        except TimeoutError:
            pass
        rows = stack.rows(f"SELECT id, kind, state, attempts FROM timers WHERE id IN ({ids})")
        # A timer another one superseded (cancelled in the same restart) does not fire.
        cancelled = [k for _, k, state, _ in rows if state == "cancelled"]
        found.check(
            all(state in ("done", "cancelled") for _, _, state, _ in rows),
            "every overdue timer fired (or was superseded)",
            f"{[(k, s) for _, k, s, _ in rows if s not in ('done', 'cancelled')]}",
        )
        found.check(
            all(attempts == 1 for _, _, state, attempts in rows if state == "done"),
            "every overdue timer fired once",
            f"{[(k, a) for _, k, _, a in rows if a != 1]}",
        )
        await asyncio.sleep(2)
        pages = [m for m in await control.messages(one) if bob in m.get("notified_user_ids", [])]
        found.check(len(pages) == 1, "the escalation paged the secondary once", f"{len(pages)}")
        first = await _bot_messages(stack)
        # Two reminders of one kind both overdue (a long downtime): the later one speaks
        # (bot/postmortem/deadline.py _overtaken). A text said twice is told if it recurs.
        repeated = [k for k, n in Counter(first).items() if n > 1 and k[1]]
        if repeated:
            found.saw(f"{len(repeated)} text(s) said twice by two overdue timers: {repeated[:1]}")

        found.tried_("kill -9 and restart again: nothing fires twice")
        stack.kill_bot()
        await stack.start_bot()
        await asyncio.sleep(5)
        second = await _bot_messages(stack)
        added = list((Counter(second) - Counter(first)).elements())
        found.check(not added, "a second restart fires nothing again", f"{added[:3]}")
        found.saw(
            f"{len(rows)} overdue timers ({dict(Counter(k for _, k, _, _ in rows))}) fired "
            f"{sum(a for *_, a in rows)} time(s), {len(cancelled)} superseded {cancelled}; "
            f"{len(pages)} page; {len(added)} message(s) after the second restart"
        )
    return found


def with_db(stack: Chaos, statement: str) -> None:
    import sqlite3

    with sqlite3.connect(stack.database, timeout=30) as db:
        db.execute(statement)


async def _bot_messages(stack: Chaos) -> list[tuple[str, str]]:
    """(channel, text) of every bot message in the incident channels and #ops-alerts."""
    world = await stack.control.world(refresh=True)
    bot = world["bot_user_id"]
    wanted = [
        c
        for c in world["channels"]
        if c["type"] == 0 and (c["name"].startswith("incident-") or c["name"] == "ops-alerts")
    ]
    seen = []
    for channel in wanted:
        for message in await stack.control.messages(channel["id"]):
            if message["author_id"] == bot:
                text = message["content"] + "".join(
                    str(e.get("description", "")) for e in message["embeds"]
                )
                seen.append((channel["name"], text))
    return seen
