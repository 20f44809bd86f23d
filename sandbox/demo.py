"""``incident-bot sandbox --demo``: a whole P0 played on its own, through the control API only.

An alert opens the incident; the commander acknowledges it and approves the X post; the
multisig pause is proposed, confirmed by two signers (✅ in Discord, then ``pause()`` sent
from their wallets on anvil) and verified by the bot on chain; the incident is resolved; the
postmortem is written, drafted and published; an action item is tracked; the close-out
checklist is answered and the channel archived. Each step is told in the terminal and in the
viewer (``POST /_sandbox/demo``, shown as a banner), with a pause between steps.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from . import alerts
from .control_client import Control

# The configuration the bot runs with in the demo: the demo's alert label maps to P0, and the
# chain is watched every second (the procedure's own durations stay as configured).
DEMO_OVERLAY: dict[str, Any] = {
    "alerts": {"severity_map": {"page": "P0"}},
    "mitigate": {"chain": {"poll_every": "1s"}},
}
STEP_PAUSE_S = 4.0  # between steps at --demo-speed 1
WAIT_S = 60.0  # a bound on waiting for the bot, not a speed requirement
DONE_LINE = "demo: done. The world stays up to explore; Ctrl-C stops it."
DONE_BANNER = (
    "The whole P0 has been played. Explore the archived channel and the X, GitHub, ops "
    "repository and chain views (left); Ctrl-C in the terminal stops the world."
)
_COMMANDER = re.compile(r"\*\*Commander:\*\*\s*<@(\d+)>")
STEPS = 13


def demo_alert(now: datetime | None = None) -> dict[str, Any]:
    """The sample Alertmanager payload, as a page (P0) about the vault."""
    payload = alerts.sample_alertmanager_payload(now)
    labels = {
        **payload["commonLabels"],
        "alertname": "VaultDrainInProgress",
        "severity": "page",
    }
    annotations = {
        **payload["commonAnnotations"],
        "summary": "Vault balance falling 4% a minute",
        "description": "Unexpected transfers out of the Atrium vault: drain in progress.",
    }
    payload.update(
        groupKey='{}:{alertname="VaultDrainInProgress"}',
        groupLabels={"alertname": labels["alertname"]},
        commonLabels=labels,
        commonAnnotations=annotations,
    )
    payload["alerts"][0].update(labels=labels, annotations=annotations)
    payload["alerts"][0]["fingerprint"] = "d3m0" + payload["alerts"][0]["fingerprint"][4:]
    return payload


def text_of(answer: dict[str, Any]) -> str:
    return "\n".join(r.get("content") or "" for r in answer.get("responses", []))


def _titled(prefix: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: any((e.get("title") or "").startswith(prefix) for e in m["embeds"])


def _labels(message: dict[str, Any]) -> dict[str, str]:
    return {
        str(c.get("label")): str(c.get("custom_id"))
        for row in message["components"]
        for c in row.get("components", [])
    }


def _button(message: dict[str, Any], label: str) -> str:
    found = _labels(message).get(label)
    if found is None:
        raise RuntimeError(f"no {label!r} button on the bot's message {message['id']}")
    return found


class Demo:
    def __init__(
        self, control: Control, speed: float = 1.0, say: Callable[[str], None] = print
    ) -> None:
        self.control = control
        self.pause_s = 0.0 if speed <= 0 else STEP_PAUSE_S / speed
        self.say = say
        self.step = 0

    async def tell(self, text: str, done: bool = False) -> None:
        """Narrate in the terminal and in the viewer, then give the watcher time to look."""
        if not done:
            self.step += 1
        self.say(DONE_LINE if done else f"demo: [{self.step}/{STEPS}] {text}")
        body = {"text": text, "step": self.step, "total": STEPS, "done": done}
        await self.control.request("POST", "demo", json=body)
        if not done and self.pause_s:
            await asyncio.sleep(self.pause_s)

    async def wait_message(self, channel: str, predicate: Any, what: str) -> dict[str, Any]:
        return await self.control.wait_for_message(channel, predicate, timeout=WAIT_S, what=what)

    async def approve_x(self, commander: str, channel: str, purpose: str, posts: int) -> None:
        """The commander approves the bot's draft for X (``purpose``: initial, resolve...)."""

        def drafted(m: dict[str, Any]) -> bool:
            return any(
                "X post" in (e.get("title") or "")
                and purpose in ((e.get("footer") or {}).get("text") or "")
                for e in m["embeds"]
            )

        approval = await self.wait_message(channel, drafted, f"the {purpose} X approval")
        await self.control.press(commander, channel, approval["id"], _button(approval, "Approve"))

        async def posted() -> bool:
            return len(await self.control.x_posts()) >= posts

        await self.control.wait_for(posted, timeout=WAIT_S, what=f"the {purpose} post on X")

    async def run(self) -> None:
        control = self.control
        world = await control.world(refresh=True)
        chain = world.get("chain")
        if not chain or chain.get("shape") != "a":
            raise RuntimeError("the demo needs the chain of shape a (run `make node` first)")

        await self.tell("An alert fires: Alertmanager pages about a vault drain (severity P0).")
        before = {i["channel_id"] for i in await control.request("GET", "incidents")}
        started = datetime.now(UTC) - timedelta(minutes=3)
        fired = await control.request("POST", "alerts", json={"payload": demo_alert(started)})
        if fired["status"] >= 300:
            raise RuntimeError(f"the bot's webhook refused the alert: HTTP {fired['status']}")

        async def opened() -> dict[str, Any] | None:
            fresh = await control.request("GET", "incidents")
            return next((i for i in fresh if i["channel_id"] not in before), None)

        incident = await control.wait_for(opened, timeout=WAIT_S, what="the incident channel")
        channel = incident["channel_id"]
        number = incident["incident"]
        kickoff = await self.wait_message(
            channel,
            lambda m: any(
                (e.get("footer") or {}).get("text") == f"Incident #{number}" for e in m["embeds"]
            ),
            "the kickoff",
        )
        found = _COMMANDER.search("\n".join(e.get("description") or "" for e in kickoff["embeds"]))
        if found is None:
            raise RuntimeError("the kickoff names no commander (is anyone on call?)")
        commander = found.group(1)
        names = {u["id"]: u["name"] for u in world["users"]}
        who = names.get(commander, commander)
        await self.tell(
            f"The bot opened the incident channel (incident #{number}) and paged @{who}, on call."
        )

        await control.command(commander, channel, "incident", "ack")
        await self.wait_message(
            channel, lambda m: m["id"] == kickoff["id"] and "acknowledged" in str(m), "the ack"
        )
        await self.tell(f"@{who} acknowledges: the commander from now on.")

        await self.approve_x(commander, channel, "initial", 1)
        await self.tell(f"@{who} approves the status post: it is on X (see the X view).")

        answer = await control.command(commander, channel, "mitigate", "pause")
        if "Proposed" not in text_of(answer):
            raise RuntimeError(f"the pause was not proposed: {text_of(answer)[:300]}")
        proposal = await self.wait_message(channel, _titled("🛑"), "the pause proposal")
        await self.tell("The commander proposes the emergency pause of the vault (2 of 3 signers).")

        signers = [s for s in chain["signers"] if s.get("user_id")][:2]
        for signer in signers:
            await control.react(signer["user_id"], channel, proposal["id"], "✅")
        await self.wait_message(channel, _titled("✅ Approved"), "the approval")
        signed = " and ".join(f"@{names.get(s['user_id'], '?')}" for s in signers)
        await self.tell(f"{signed} approve with ✅; each now sends pause() from their wallet.")

        for signer in signers:
            sent = await control.request(
                "POST",
                "chain/transactions",
                json={
                    "user_id": signer["user_id"],
                    "to": "PRAETOR_TIMELOCK",
                    "function": "pause()",
                },
            )
            if sent["status"] != "ok":
                raise RuntimeError(f"pause() from {signer['address']} reverted: {sent['hash']}")
        await self.wait_message(
            channel, _titled("✅ Mitigation applied"), "the pause read back on chain"
        )
        await self.tell("Two confirmations on anvil: the bot reads paused() back and says so.")

        await control.command(commander, channel, "incident", "resolve", note="vault paused")
        await self.approve_x(commander, channel, "resolve", 2)
        await self.tell(
            "Resolved; the all-clear is approved and posted on X, under the first post."
        )

        for text in (
            "Why did funds leave the vault? An operator key signed transfers.",
            "Why? The key was kept on a build server.",
        ):
            await control.command(commander, channel, "postmortem", "why", text=text)
        await control.command(
            commander, channel, "postmortem", "impact", text="Vault paused 6 minutes after alert"
        )
        await control.command(
            commander, channel, "postmortem", "lesson", text="Operator keys only in hardware"
        )
        await control.command(commander, channel, "postmortem", "draft")
        await self.tell("The postmortem: two whys, the impact, a lesson; drafted in the channel.")

        added = await control.command(
            commander,
            channel,
            "followup",
            "add",
            action="Move operator keys to hardware wallets",
            owner=commander,
            due="+7d",
        )
        if "Added" not in text_of(added):
            raise RuntimeError(f"the action item was refused: {text_of(added)[:300]}")
        await self.tell("An action item with an owner and a due date, in docs/plan-tracker.md.")

        published = text_of(await control.command(commander, channel, "postmortem", "publish"))
        if not published.startswith("Published"):
            raise RuntimeError(f"the postmortem was not published: {published[:300]}")
        await self.tell("The postmortem is published to incidents/ (see the ops repo view).")

        await control.command(commander, channel, "incident", "close")
        question = await self.wait_message(
            channel, lambda m: m["content"].startswith("📋 "), "the close-out question"
        )
        labels = _labels(question)
        pressed = [
            label for label in ("Alert rules updated", "Response was clear") if label in labels
        ]
        if "Response was clear" not in pressed:
            raise RuntimeError(f"the close-out question offers {sorted(labels)}")
        for label in pressed:
            await control.press(commander, channel, question["id"], labels[label])
        await self.tell(f"The close-out checklist is answered: {', '.join(pressed).lower()}.")

        closed = text_of(await control.command(commander, channel, "incident", "close"))
        if "Closed" not in closed:
            raise RuntimeError(f"the incident was not closed: {closed[:300]}")
        await self.tell("Closed: the channel is read-only now, in the Incident archive.")
        await self.tell(DONE_BANNER, done=True)


async def play(base_url: str, speed: float = 1.0, say: Callable[[str], None] = print) -> None:
    async with Control(base_url) as control:
        await Demo(control, speed, say).run()
