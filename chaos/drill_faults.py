"""Gateway drop, INVALID_SESSION, 429 and 5xx bursts before and after the effect (the
sandbox's existing faults): no command answered twice or lost, no message lost from
the incident's transcript.

One incident is declared; each round arms a fault, posts members' messages in the
incident channel and hands command over there (``/incident commander``: an answer, a
timeline event, the kickoff edited), then reads the interaction's answers a moment
later (a late second answer counts), the hand-overs recorded and the transcript rows.

Not a round: two 5xx in a row on an interaction's first answer. discord.py retries
after 1 s and 3 s, past Discord's 3-second deadline, so no bot can answer it then.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from chaos.stack import Chaos, Findings, until

MESSAGES_PER_ROUND = 5


async def _gateway_drop(stack: Chaos) -> None:
    await stack.control.fault("disconnect")


async def _invalid_session(stack: Chaos) -> None:
    before = (await stack.control.request("GET", "gateway"))["identifies"]
    await stack.control.fault("invalid_session")
    await stack.control.fault("disconnect")

    async def identified() -> bool:
        gateway = await stack.control.request("GET", "gateway")
        return gateway["identifies"] > before and any(s["connected"] for s in gateway["sessions"])

    stack.after_arm = identified


def _both(*arms):
    async def arm(stack: Chaos) -> None:
        for one in arms:
            await one(stack)

    return arm


def _rest(kind: str, count: int, prefix: str):
    async def arm(stack: Chaos) -> None:
        await stack.control.fault(kind, count, prefix)

    return arm


ROUNDS = [
    ("gateway drop (RESUME)", _gateway_drop),
    ("INVALID_SESSION (fresh IDENTIFY)", _invalid_session),
    ("429 burst on the interaction answers", _rest("rate_limit", 3, "/interactions/")),
    (
        "5xx before the effect (answer once, kickoff edit 3 times)",
        _both(_rest("server_error", 1, "/interactions/"), _rest("server_error", 3, "/channels/")),
    ),
    (
        "5xx after the effect (answer, kickoff edit)",
        _both(
            _rest("server_error_after", 1, "/interactions/"),
            _rest("server_error_after", 1, "/channels/"),
        ),
    ),
    ("429 burst on every Discord call", _rest("rate_limit", 4, "/")),
]


async def run(root: Path) -> Findings:
    found = Findings("faults")
    async with Chaos(root) as stack:
        control = stack.control
        erin, alice = await control.user_id("erin"), await control.user_id("alice")
        general = await control.channel_id("general")
        await control.command(
            erin, general, "incident", "declare", title="Chaos faults", severity="P2"
        )
        channel = (await stack.incident_channels())[0]["id"]
        (incident_id,) = stack.rows(f"SELECT id FROM incidents WHERE channel_id = '{channel}'")[0]
        bob = await control.user_id("bob")
        posted: list[str] = []
        commander, other = alice, bob
        for number, (what, arm) in enumerate(ROUNDS):
            found.tried_(f"{what}: {MESSAGES_PER_ROUND} messages and /incident commander")
            stack.after_arm = stack._connected
            await arm(stack)
            for line in range(MESSAGES_PER_ROUND):
                message = await control.post(alice, channel, f"round {number} line {line}")
                posted.append(message["id"])
            await until(stack.after_arm, 60, "the gateway back")
            handovers = _handovers(stack, incident_id)
            answer = await control.command(
                commander, channel, "incident", "commander", member=other
            )
            await asyncio.sleep(1.5)  # a late second answer would arrive by now
            answers = await _answers(stack, answer)
            found.check(len(answers) >= 1, f"{what}: the command is answered", "no answer")
            found.check(len(answers) <= 1, f"{what}: the command is answered once", f"{answers}")
            done = _handovers(stack, incident_id) - handovers
            found.check(done == 1, f"{what}: the hand-over is recorded once", f"{done}")
            commander, other = other, commander

            def stored() -> bool:
                rows = stack.rows(
                    f"SELECT message_id FROM transcript_messages WHERE incident_id = {incident_id}"
                )
                return {str(r[0]) for r in rows} >= set(posted)

            try:
                await until(stored, 30, "the round's messages in the transcript")
            except TimeoutError:
                pass
            rows = stack.rows(
                f"SELECT message_id FROM transcript_messages WHERE incident_id = {incident_id}"
            )
            missing = set(posted) - {str(r[0]) for r in rows}
            found.check(not missing, f"{what}: no message lost from the transcript", f"{missing}")
            found.saw(f"{what}: {len(answers)} answer(s), {len(missing)} message(s) missing")
        gateway = await control.request("GET", "gateway")
        found.figures = {
            "identifies": gateway["identifies"],
            "resumes": gateway["resumes"],
            "messages": len(posted),
        }
        found.saw(
            f"{len(posted)} messages, {len(ROUNDS)} commands; the gateway identified "
            f"{gateway['identifies']} times and resumed {gateway['resumes']}"
        )
    return found


def _handovers(stack: Chaos, incident_id: int) -> int:
    return stack.rows(
        "SELECT count(*) FROM timeline_events WHERE kind = 'commander' "
        f"AND incident_id = {incident_id}"
    )[0][0]


async def _answers(stack: Chaos, answer: dict[str, Any]) -> list[str]:
    """The answers that carry content (a deferral alone is not an answer)."""
    seen = await stack.control.request("GET", f"interactions/{answer['interaction_id']}")
    return [r.get("content") or "" for r in seen["responses"] if r.get("content")]
