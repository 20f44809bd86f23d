"""An outage of GitHub (the P3 ticket): named by /healthz, told once, the work resumes.

The sandbox's GitHub answers 5xx to the bot's next requests (fault ``server_error`` on
``/repos``) while a P3 is declared, so its ticket cannot be opened; the drill reads
/healthz while it fails, lets GitHub recover (the faults run out) and checks the ticket
is opened once, /healthz is healthy again and a channel was told of it once.

Not drilled yet: the RPC (anvil), X and the ops repository's remote.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from chaos.stack import Chaos, Findings, until

FAILURES = 4


async def run(root: Path) -> Findings:
    found = Findings("outage")
    async with Chaos(root) as stack:
        control = stack.control
        erin = await control.user_id("erin")
        general = await control.channel_id("general")
        ops = await control.channel_id("ops-alerts")
        found.tried_(f"GitHub answers 5xx to the next {FAILURES} requests; a P3 is declared")
        await control.fault("server_error", FAILURES, "/repos")
        ops_before = len(await control.messages(ops))
        await control.command(
            erin, general, "incident", "declare", title="Chaos ticket", severity="P3"
        )
        named: list[Any] = []

        async def health_names_it() -> bool:
            body = await stack.health_any()
            if body.get("failing"):
                named.append(body)
                return True
            return False

        try:
            await until(health_names_it, 60, "/healthz to name the failing GitHub work")
        except TimeoutError:
            pass
        found.check(bool(named), "/healthz names the outage", "never unhealthy")
        if named:
            found.saw(
                f"/healthz while GitHub fails: failing {named[0].get('failing')}, "
                f"{named[0].get('failing_timers')}"
            )

        async def ticket() -> list[dict] | None:
            issues = [i for i in await control.github_issues() if "Chaos ticket" in i["title"]]
            return issues or None

        try:
            issues = await until(ticket, 120, "the ticket once GitHub is back")
        except TimeoutError:
            issues = []
        found.check(len(issues) == 1, "the work resumes by itself: one ticket", f"{len(issues)}")

        async def healthy() -> bool:
            return (await stack.health_any()).get("status") == "ok"

        try:
            await until(healthy, 60, "/healthz healthy again")
            recovered = True
        except TimeoutError:
            recovered = False
        found.check(recovered, "/healthz is healthy again once GitHub is back")
        await asyncio.sleep(1)
        ticket_channel = next(
            c["id"] for c in await stack.incident_channels() if c["name"].endswith("chaos-ticket")
        )
        told = [
            m
            for channel in (ops, ticket_channel)
            for m in (await control.messages(channel))[ops_before if channel == ops else 0 :]
            if _about_the_outage(m["content"] + str(m["embeds"]))
        ]
        found.check(
            len(told) == 1,
            "the outage is told once (#ops-alerts or the incident channel)",
            f"told {len(told)} time(s): {[(m['content'] or str(m['embeds']))[:120] for m in told]}",
        )
        found.saw(f"{len(issues)} ticket, healthy again {recovered}, told {len(told)} time(s)")
    return found


def _about_the_outage(text: str) -> bool:
    """A message saying GitHub fails (not the kickoff, not the ticket's link)."""
    lowered = text.lower()
    return "github" in lowered and any(
        word in lowered for word in ("fail", "could not", "unavailable", "retr", "down", "error")
    )
