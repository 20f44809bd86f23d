"""A rotation with a gap or an unknown member is reported at start, in #ops-alerts."""

from __future__ import annotations

import pytest


@pytest.fixture
def overlay():
    return {
        "rotation": {
            "shifts": [
                {
                    "start": "2020-01-01T00:00+00:00",
                    "end": "2020-02-01T00:00+00:00",
                    "primary": "@alice",
                },
                {
                    "start": "2020-02-02T00:00+00:00",
                    "end": "2099-01-01T00:00+00:00",
                    "primary": "@nobody-here",
                },
            ]
        }
    }


async def test_gaps_and_unknown_members_are_posted_to_ops_alerts_at_start(bot, control):
    ops = await control.channel_id("ops-alerts")
    warning = await control.wait_for_message(
        ops, lambda m: "On-call rotation problems" in m["content"], what="the warning"
    )
    assert "gap" in warning["content"] and "2020-02-01 00:00" in warning["content"]
    assert "@nobody-here is not a member of the guild" in warning["content"]


async def test_a_declaration_with_nobody_resolvable_on_call_pages_the_admin_role(bot, control):
    general = await control.channel_id("general")
    await control.command(
        await control.user_id("erin"),
        general,
        "incident",
        "declare",
        title="Nobody home",
        severity="P1",
    )
    world = await control.world(refresh=True)
    channel = next(c for c in world["channels"] if c["name"].endswith("nobody-home"))
    admin_role = next(r for r in world["roles"] if r["name"] == "incident-admin")
    kickoff = (await control.messages(channel["id"]))[0]
    assert f"<@&{admin_role['id']}>" in kickoff["content"]
    assert await control.user_id("alice") in kickoff["notified_user_ids"]
    assert "No one is on call" in kickoff["content"]


async def test_a_role_page_that_notifies_nobody_says_why_in_the_channel(bot, control):
    from sandbox.discord import permissions as perms

    await control.take_from_bot(perms.MENTION_EVERYONE)  # and incident-admin is not mentionable
    await control.command(
        await control.user_id("erin"),
        await control.channel_id("general"),
        "incident",
        "declare",
        title="Nobody notified",
        severity="P1",
    )
    channel = next(
        c
        for c in (await control.world(refresh=True))["channels"]
        if c["name"].endswith("nobody-notified")
    )
    note = await control.wait_for_message(
        channel["id"], lambda m: "was not notified" in m["content"], what="the note"
    )
    assert "`@incident-admin` was not notified" in note["content"]
    assert "Mention Everyone" in note["content"] and note["notified_user_ids"] == []
    kickoff = (await control.messages(channel["id"]))[0]
    assert kickoff["notified_user_ids"] == []
