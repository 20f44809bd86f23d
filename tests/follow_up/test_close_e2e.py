"""Done when (item 3): a close refused with the missing checklist items listed (the
commander asked with two buttons, alert rules asked after slow detection), then accepted;
an incident-admin's override with a reason recorded; closing twice refused."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sandbox.alerts import sample_alertmanager_payload
from storage import follow_up as queries
from tests.e2e.helpers import find_channel, text_of
from tests.postmortem.helpers import OVERLAY, declare


@pytest.fixture
def overlay():
    return {
        **OVERLAY,
        "alerts": {"open_every": "50ms", "digest_every": "100ms", "notes_every": "100ms"},
        "follow_up": {"slow_detection": "5m"},
    }


def custom_ids(message) -> dict[str, str]:
    return {c["label"]: c["custom_id"] for row in message["components"] for c in row["components"]}


async def test_a_close_is_refused_listing_what_is_missing_then_accepted(bot, control):
    started = (datetime.now(UTC) - timedelta(minutes=12)).replace(microsecond=0)
    await control.request("POST", "alerts", json={"payload": sample_alertmanager_payload(started)})
    channel = (
        await control.wait_for(lambda: find_channel(control, "incident-"), what="the channel")
    )["id"]
    alice, frank = await control.user_id("alice"), await control.user_id("frank")

    async def declared():
        try:
            return await bot.services.incidents.in_channel(channel)
        except Exception:
            return None

    incident = await control.wait_for(declared, what="the incident declared")
    early = text_of(await control.command(alice, channel, "incident", "close"))
    assert early.startswith("Resolve the incident first (`/incident resolve`)")
    await control.command(alice, channel, "incident", "ack")
    await control.command(alice, channel, "incident", "resolve")
    refused = text_of(await control.command(alice, channel, "incident", "close"))
    lines = refused.splitlines()
    assert lines[0] == "Not closed: the close-out checklist is not done."
    assert (
        lines[1] == "- Action items tracked in `docs/plan-tracker.md`: none yet (`/followup add`)"
    )
    assert lines[2].startswith("- Postmortem published to `incidents/`: not published yet")
    assert lines[3].startswith("- Alert rules updated: detection took 12m")
    assert lines[4].startswith("- Runbooks updated if response was unclear")
    question = await control.wait_for_message(
        channel, lambda m: m["content"].startswith("📋 "), what="the close-out question"
    )
    buttons = custom_ids(question)
    assert set(buttons) == {"Alert rules updated", "Runbooks updated", "Response was clear"}

    stranger = text_of(
        await control.press(frank, channel, question["id"], buttons["Response was clear"])
    )
    assert stranger.startswith("Only the incident commander")
    for label in ("Alert rules updated", "Response was clear"):
        pressed = text_of(await control.press(alice, channel, question["id"], buttons[label]))
        assert pressed == f"Recorded: **{label}** (<@{alice}>)."
    await control.command(
        alice, channel, "followup", "add", action="Alert sooner", owner=alice, due="+3d"
    )
    still = text_of(await control.command(alice, channel, "incident", "close"))
    assert still.splitlines()[1:] == [
        "- Postmortem published to `incidents/`: not published yet (`/postmortem publish`; "
        "a push that failed does not count)",
        "Members with the `incident-admin` role may close anyway with `reason:`.",
    ]

    published = text_of(await control.command(alice, channel, "postmortem", "publish"))
    assert published.startswith("Published `incidents/")
    closed = text_of(await control.command(alice, channel, "incident", "close"))
    assert closed.startswith(f"🔒 Closed by <@{alice}>.")
    again = text_of(await control.command(alice, channel, "incident", "close"))
    assert again == "This incident is already closed."
    incident = await bot.services.incidents.in_channel(channel)
    assert incident.status == "closed" and incident.closed_at is not None


async def test_an_incident_admin_overrides_with_a_reason_which_is_recorded(bot, control):
    channel = await declare(control, "Typo on status page", "P1")
    alice, carol = await control.user_id("alice"), await control.user_id("carol")
    admin = await control.user_id("alice")  # the sandbox's incident-admin (and commander)
    await control.command(alice, channel, "incident", "ack")
    await control.command(alice, channel, "incident", "resolve")
    refused = text_of(await control.command(carol, channel, "incident", "close", reason="meh"))
    assert refused.startswith(
        "Only members with the `incident-admin` role may close with items missing."
    )
    closed = text_of(
        await control.command(admin, channel, "incident", "close", reason="Duplicate of #12")
    )
    assert closed.startswith(f"🔒 Closed by <@{admin}>. Closed by override")
    incident = await bot.services.incidents.in_channel(channel)
    async with bot.services.sessions() as session:
        row = await queries.find_closeout(session, incident.id)
    assert row is not None and row.override_reason == "Duplicate of #12"
    assert row.closed_by == admin


async def test_a_close_after_a_failed_postmortem_push_is_refused_until_it_is_published(
    bot, control
):
    channel = await declare(control, "Bridge stalled", "P1")
    alice = await control.user_id("alice")
    await control.command(alice, channel, "incident", "ack")
    await control.command(alice, channel, "incident", "resolve")
    await control.command(alice, channel, "followup", "add", action="Alert", owner=alice, due="+1d")
    question = await _question(control, channel, alice)
    await control.press(alice, channel, question["id"], custom_ids(question)["Response was clear"])

    repo = Path((await control.world())["ops_repo"]["path"])
    hooks = (
        repo / "hooks"
        if (repo / "HEAD").exists() and not (repo / ".git").exists()
        else repo / ".git" / "hooks"
    )
    hook = hooks / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'pushes are frozen' >&2\nexit 1\n")
    hook.chmod(hook.stat().st_mode | stat.S_IEXEC)
    failed = text_of(await control.command(alice, channel, "postmortem", "publish"))
    # (bot/adapters/git.py reports a hook's refusal as "moved again": reported to the lead)
    assert "failed to push some refs" in failed and "Nothing was left half-done" in failed
    refused = text_of(await control.command(alice, channel, "incident", "close"))
    assert refused.splitlines()[1].startswith(
        "- Postmortem published to `incidents/`: not published"
    )
    assert (await bot.services.incidents.in_channel(channel)).status == "resolved"

    os.remove(hook)
    assert text_of(await control.command(alice, channel, "postmortem", "publish")).startswith(
        "Published `incidents/"
    )
    closed = text_of(await control.command(alice, channel, "incident", "close"))
    assert closed.startswith(f"🔒 Closed by <@{alice}>.")


async def _question(control, channel: str, alice: str) -> dict:
    await control.command(alice, channel, "incident", "close")
    return await control.wait_for_message(
        channel, lambda m: m["content"].startswith("📋 "), what="the close-out question"
    )
