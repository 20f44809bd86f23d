"""``/incident postmortem`` and ``/incident follow-up`` in the sandbox: the rules, per incident."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.e2e.helpers import ALWAYS_ON_CALL, incident_channel_id, text_of

QUIET = {"escalate_after": "1h", "respond_within": "2h"}  # no pages while the test runs


@pytest.fixture
def overlay():
    return {
        **ALWAYS_ON_CALL,
        "procedure": {"severities": {name: dict(QUIET) for name in ("P1", "P2")}},
    }


async def test_a_p1_owes_a_postmortem_due_48h_after_resolution_and_a_p2_none(bot, control):
    general = await control.channel_id("general")
    erin, alice = await control.user_id("erin"), await control.user_id("alice")
    for title, severity in (("Site down", "P1"), ("Swaps slow", "P2")):
        await control.command(erin, general, "incident", "declare", title=title, severity=severity)
    site, swaps = [await incident_channel_id(control, s) for s in ("site-down", "swaps-slow")]
    day = next(
        c["name"] for c in (await control.world(refresh=True))["channels"] if c["id"] == site
    ).removeprefix("incident-")[: len("YYYY-MM-DD")]

    text = text_of(await control.command(erin, site, "incident", "postmortem"))
    assert f"required for P1 within 48h, at `incidents/{day}-site-down.md`" in text
    assert "starts when the incident is resolved" in text

    await control.command(alice, site, "incident", "resolve")
    resolved_at = (await bot.services.incidents.in_channel(site)).resolved_at
    stamp = int((resolved_at + timedelta(hours=48)).timestamp())
    text = text_of(await control.command(erin, site, "incident", "postmortem"))
    assert f"Due <t:{stamp}:f>" in text

    text = text_of(await control.command(erin, swaps, "incident", "postmortem"))
    assert text == "No postmortem is required for P2."
    checklist = text_of(await control.command(erin, swaps, "incident", "follow-up"))
    assert (
        "~~Postmortem published to `incidents/`~~ (no postmortem is required for P2)" in checklist
    )
    # Outside an incident channel: the procedure's checklist as written.
    checklist = text_of(await control.command(erin, general, "incident", "follow-up"))
    assert "- [ ] Postmortem published to `incidents/`" in checklist
    assert "- [ ] Action items tracked in `docs/plan-tracker.md`" in checklist
