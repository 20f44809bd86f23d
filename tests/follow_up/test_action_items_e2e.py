"""Done when (item 1): an incident's action items reach ``docs/plan-tracker.md`` in the
sandbox's ops repository (a table, committed and pushed on each change) and the
postmortem's Action Items section; bad due dates, unknown items and doing twice refused."""

from __future__ import annotations

import subprocess
from datetime import timedelta

import pytest

from bot.follow_up.due import ACCEPTED
from tests.e2e.helpers import text_of
from tests.postmortem.helpers import OVERLAY, declare


def git(repo: str, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", repo, *args], check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def overlay():
    return OVERLAY


async def test_action_items_reach_the_plan_tracker_and_the_postmortem(bot, control):
    channel = await declare(control, "Site down", "P1")
    alice, bob = await control.user_id("alice"), await control.user_id("bob")
    repo = (await control.world())["ops_repo"]["path"]
    today = bot.services.follow_up.today()

    refused = text_of(
        await control.command(
            alice, channel, "followup", "add", action="Add an alert", owner=bob, due="soon"
        )
    )
    assert refused == f"I can't read `soon` as a due date. Use {ACCEPTED}."
    past = (today - timedelta(days=1)).isoformat()
    refused = text_of(
        await control.command(
            alice, channel, "followup", "add", action="Add an alert", owner=bob, due=past
        )
    )
    assert refused.startswith(f"`{past}` is {past}, already past")
    assert "plan-tracker" not in git(repo, "ls-tree", "-r", "--name-only", "main")

    added = text_of(
        await control.command(
            alice,
            channel,
            "followup",
            "add",
            action="Alert on relayer lag | page",
            owner=bob,
            due="+3d",
        )
    )
    due = (today + timedelta(days=3)).isoformat()
    assert added.startswith(f"Added `#1` Alert on relayer lag \\| page, <@{bob}>, due {due}, open.")
    assert "`docs/plan-tracker.md` updated (commit `" in added
    tracker = git(repo, "show", "main:docs/plan-tracker.md")
    incident = await bot.services.incidents.in_channel(channel)
    label = f"{bot.services.incidents.local_date(incident).isoformat()} {incident.slug}"
    rows = [line for line in tracker.splitlines() if line.startswith("| ")]
    assert rows[0] == "| Incident | Action | Owner | Due | Status | Link |"
    assert rows[1].startswith(
        f"| {label} | Alert on relayer lag \\| page | Bob Okafor | {due} | open | <https://"
    )
    assert rows[1].endswith(f"/{channel}> |")

    await control.command(
        alice, channel, "followup", "add", action="Runbook for replays", owner=alice, due="today"
    )
    listed = text_of(await control.command(alice, channel, "followup", "list"))
    assert listed.splitlines()[0] == "**Action items** (2)"
    assert listed.splitlines()[1].startswith("`#2` Runbook for replays")  # due first

    done = text_of(await control.command(bob, channel, "followup", "done", id=1))
    assert done.startswith("Done: `#1` Alert on relayer lag")
    assert "| done |" in git(repo, "show", "main:docs/plan-tracker.md")
    again = text_of(await control.command(bob, channel, "followup", "done", id=1))
    assert again.startswith("Action item `#1` is already done")
    missing = text_of(await control.command(bob, channel, "followup", "done", id=99))
    assert missing == "There is no action item `#99`: `/followup list` shows them."
    subjects = git(repo, "log", "--format=%s", "main").splitlines()
    assert subjects[:3] == ["Plan tracker: #1 done", "Plan tracker: add #2", "Plan tracker: add #1"]

    draft = await bot.services.postmortem.drafts.draft(incident)
    section = draft.text.split("## Action Items\n", 1)[1].split("\n## ", 1)[0]
    assert section.strip().splitlines() == [
        f"- [ ] Alert on relayer lag \\| page, Bob Okafor, {due} (done)",
        f"- [ ] Runbook for replays, Alice Moreau, {today.isoformat()}",
    ]
