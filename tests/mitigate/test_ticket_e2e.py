"""``/mitigate ticket`` in the sandbox: the P2 ticket opened once, labelled ``incident`` and the
severity, linking the channel, scheduled for the next sprint (milestone or label)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.mitigate.test_hotfix_e2e import declare, fix_overlay, run, timeline


@pytest.fixture
def overlay(request: pytest.FixtureRequest) -> dict[str, Any]:
    return fix_overlay(**getattr(request, "param", {}))


async def test_the_p2_ticket_is_opened_once_with_the_labels_and_the_channel_link(bot, control):
    channel, _ = await declare(control, "Slow checkout", "P2")
    await bot.services.comms.idle()
    assert await control.github_issues() == []  # P2: only when asked (by default)
    first = await run(control, channel, "ticket")
    assert "Opening this incident's GitHub ticket" in first
    [issue] = await control.wait_for(control.github_issues, what="the ticket")
    assert issue["labels"] == ["incident", "P2", "next-sprint"]
    assert channel in issue["body"] and "Slow checkout" in issue["title"]
    await control.wait_for_message(
        channel, lambda m: f"[#{issue['number']}]({issue['url']})" in m["content"]
    )
    [event] = await timeline(bot, channel, "github_issue")
    assert issue["url"] in event.text
    again = await run(control, channel, "ticket")
    assert f"This incident's ticket is [#{issue['number']}]({issue['url']})" in again
    assert len(await control.github_issues()) == 1


@pytest.mark.parametrize(
    "overlay", [{"ticket_milestone": "Next sprint", "ticket_on_declare": ["P2"]}], indirect=True
)
async def test_a_configured_milestone_schedules_it_and_p2_can_open_on_declaration(bot, control):
    made = await control.request("POST", "github/milestones", json={"title": "Next sprint"})
    channel, _ = await declare(control, "Search degraded", "P2")
    [issue] = await control.wait_for(control.github_issues, what="the automatic ticket")
    assert issue["labels"] == ["incident", "P2"]  # the milestone schedules it, not a label
    [milestone] = await control.request("GET", "github/milestones")
    assert milestone["issues"] == [issue["number"]] and milestone["title"] == made["title"]
    message = await control.wait_for_message(channel, lambda m: issue["url"] in m["content"])
    assert "Scheduled for the milestone Next sprint" in message["content"]


async def test_a_token_without_push_access_loses_the_labels_and_the_channel_is_told(
    bot, control, world
):
    world.github.push_access = False
    channel, _ = await declare(control, "Export broken", "P2")
    await run(control, channel, "ticket")
    [issue] = await control.wait_for(control.github_issues, what="the ticket")
    assert issue["labels"] == []
    message = await control.wait_for_message(channel, lambda m: issue["url"] in m["content"])
    assert (
        "GitHub dropped the `incident` label: the bot's token lacks push access"
        in (message["content"])
    )
