"""/postmortem why|impact|lesson, /postmortem draft (attached, placeholders, inert text,
redraft keeps what people wrote), /postmortem transcript, /postmortem status."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import text_of
from tests.postmortem.helpers import OVERLAY, declare, wait_ids


@pytest.fixture
def overlay():
    return OVERLAY


async def attachment(control, channel: str, suffix: str) -> str:
    """The text of the newest file attached in the channel whose name ends with ``suffix``."""

    async def probe():
        for message in reversed(await control.messages(channel)):
            for file in message["attachments"]:
                if file["filename"].endswith(suffix):
                    return file["text"]
        return None

    return await control.wait_for(probe, what=f"a file *{suffix}")


async def test_a_draft_before_anything_happened_has_clear_placeholders(bot, control):
    channel = await declare(control)
    erin = await control.user_id("erin")
    answer = text_of(await control.command(erin, channel, "postmortem", "draft"))
    assert "Drafted `incidents/" in answer and "-site-down.md`" in answer
    assert "Still empty: impact, 5 whys, lessons" in answer
    text = await attachment(control, channel, "-site-down.md")
    assert text.startswith("# Incident: Site down\n**Date:** ")
    assert "**Severity:** P1" in text
    assert "**Duration:** not yet known" in text
    assert "_Not written yet: `/postmortem impact text:`" in text
    assert "1. _Not written yet: `/postmortem why text:`" in text
    assert "- [ ] <action>, owner, due date" in text
    assert "Time to acknowledge (declaration to acknowledgement): not yet known" in text


async def test_what_people_wrote_is_kept_across_redrafts_and_outside_text_stays_inert(bot, control):
    channel = await declare(control)
    alice, bob = await control.user_id("alice"), await control.user_id("bob")
    await control.command(alice, channel, "incident", "ack")
    nasty = await control.post(bob, channel, "# Heading\n```\ncode\n``` @everyone <@&123>")
    await wait_ids(bot, control, channel, [nasty["id"]])
    await control.react(alice, channel, nasty["id"], "🔍")
    for why in ("Why did withdrawals fail? The cache was empty.", "Why? TTL was 0."):
        await control.command(alice, channel, "postmortem", "why", text=why)
    answer = await control.command(
        alice, channel, "postmortem", "why", text="Why? A config typo.", replace=2
    )
    assert "Replaced why 2" in text_of(answer)
    refused = await control.command(alice, channel, "postmortem", "why", text="x", replace=7)
    assert "There is no why 7 to replace (the chain has 1 to 2)" in text_of(refused)
    await control.command(
        alice, channel, "postmortem", "impact", text="Withdrawals failed for 40 minutes"
    )
    await control.command(alice, channel, "postmortem", "lesson", text="Alert on TTL=0")

    for _ in range(2):  # a redraft keeps every word
        await control.command(alice, channel, "postmortem", "draft")
        text = await attachment(control, channel, "-site-down.md")
        assert "**Impact:** Withdrawals failed for 40 minutes" in text
        assert "1. Why did withdrawals fail? The cache was empty.\n2. Why? A config typo." in text
        assert "- Alert on TTL=0" in text
    # Every line of the document is ours: no heading, fence or ping from the message.
    assert "\n# Heading" not in text and "\n```" not in text
    assert "@everyone" not in text and "<@&123>" not in text
    assert [line for line in text.splitlines() if line.startswith("#")] == [
        "# Incident: Site down",
        "## Timeline",
        "## Root Cause (5 Whys)",
        "## Action Items",
        "## Lessons Learned",
        "## Response times",
        "## Participants",
        "## Links",
    ]
    assert "Root cause identified: \\# Heading" in text
    assert "Bob Okafor (1 message)" in text

    status = text_of(await control.command(alice, channel, "postmortem", "status"))
    assert "A postmortem is required for P1" in status and "clock starts when" in status
    assert "Still empty: timeline: service restored." in status

    answer = text_of(await control.command(alice, channel, "postmortem", "transcript"))
    assert "Attached the full transcript" in answer
    transcript = await attachment(control, channel, "-transcript.txt")
    assert "Bob Okafor: # Heading" in transcript
