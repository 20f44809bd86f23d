"""``/incident playbook`` in the sandbox: the steps come filled for the incident."""

from __future__ import annotations

import pytest

from sandbox.control_client import Control
from tests.e2e.helpers import ALWAYS_ON_CALL, incident_channel_id, text_of

TIMELOCK = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
QUIET = {"escalate_after": "1h", "respond_within": "2h"}  # no pages while the test runs


@pytest.fixture
def overlay():
    return {
        **ALWAYS_ON_CALL,
        # UTC+14: the local date differs from UTC's for most of the day, and the branch
        # must carry the channel's (local) date.
        "time_zone": "Pacific/Kiritimati",
        "procedure": {"severities": {name: dict(QUIET) for name in ("P0", "P1")}},
        # Written all-lowercase, as block explorers often show it: the bot checksums it.
        "mitigate": {"addresses": {"PRAETOR_TIMELOCK": TIMELOCK.lower()}},
    }


async def playbook_in(control: Control, title: str, severity: str) -> tuple[str, str]:
    general = await control.channel_id("general")
    erin = await control.user_id("erin")
    await control.command(erin, general, "incident", "declare", title=title, severity=severity)
    slug = title.lower().replace(" ", "-")
    channel = await incident_channel_id(control, slug)
    name = next(
        c["name"] for c in (await control.world(refresh=True))["channels"] if c["id"] == channel
    )
    day = name.removeprefix("incident-")[: len("YYYY-MM-DD")]
    answer = await control.command(erin, channel, "incident", "playbook")
    return text_of(answer), day


async def test_the_playbook_shows_the_incidents_branch_and_the_configured_addresses(bot, control):
    text, day = await playbook_in(control, "Withdrawals failing", "P1")
    assert "YYYY-MM-DD" not in text
    assert f"git checkout -b hotfix/incident-{day}" in text
    assert f"git push -u origin hotfix/incident-{day}" in text

    text, _ = await playbook_in(control, "Vault drained", "P0")
    assert "$PRAETOR_TIMELOCK" not in text
    assert f"`pause()` on {TIMELOCK}" in text  # checksummed at load
    # The kill switch's address is not configured: the placeholder stays, and says how.
    assert "$POSTERN_KILL_SWITCH" in text
    assert "not configured: set [mitigate.addresses] POSTERN_KILL_SWITCH" in text


async def test_the_ticket_step_says_the_issue_was_opened_with_its_link(bot, control):
    text, _ = await playbook_in(control, "Typo on the FAQ", "P3")
    channel = await incident_channel_id(control, "typo-on-the-faq")
    [issue] = await control.wait_for(control.github_issues, what="the P3 ticket")
    await control.wait_for(
        lambda: _issue_recorded(bot, channel), what="the issue recorded in the incident"
    )
    erin = await control.user_id("erin")
    text = text_of(await control.command(erin, channel, "incident", "playbook"))
    first, second = text.splitlines()[1:3]
    assert first.startswith("1. Create a GitHub issue") and f"Opened: {issue['url']}" in first
    assert "Opened" not in second  # linking and scheduling are still the team's


async def _issue_recorded(bot, channel_id: str) -> bool:  # type: ignore[no-untyped-def]
    incident = await bot.services.incidents.in_channel(channel_id)
    return incident.github_issue_url is not None
