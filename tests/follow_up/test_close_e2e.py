"""Done when (item 3): a close refused with the missing checklist items listed (the
commander asked with two buttons, alert rules asked after slow detection), then accepted;
an incident-admin's override with a reason recorded; closing twice refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
