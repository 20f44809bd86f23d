"""The transcript: every message of an incident channel kept as it arrives, with edits and
deletions, and backfilled after a restart without doubles."""

from __future__ import annotations

import pytest

from tests.postmortem.helpers import OVERLAY, declare, kept, wait_ids, wait_kept


@pytest.fixture
def overlay():
    return OVERLAY


async def test_messages_edits_and_deletions_are_kept_as_they_happen(bot, control):
    channel = await declare(control)
    bob = await control.user_id("bob")
    first = await control.post(bob, channel, "DB primary is at 100% CPU")
    second = await control.post(bob, channel, "restarting the replica")
    general = await control.channel_id("general")
    await control.post(bob, general, "not an incident channel")
    rows = await wait_ids(bot, control, channel, [first["id"], second["id"]])
    assert rows[int(first["id"])].content == "DB primary is at 100% CPU"
    assert rows[int(first["id"])].author_id == bob

    await control.request(
        "PATCH",
        f"messages/{first['id']}",
        json={
            "user_id": bob,
            "channel_id": channel,
            "content": "DB primary at 100% CPU since 09:58",
        },
    )
    await control.request("DELETE", f"messages/{second['id']}", json={"channel_id": channel})

    async def settled():
        rows = {r.message_id: r for r in await kept(bot, channel)}
        edited, deleted = rows[int(first["id"])], rows[int(second["id"])]
        return edited.edited_at is not None and deleted.deleted_at is not None and rows

    rows = await control.wait_for(settled, what="the edit and the deletion")
    assert rows[int(first["id"])].content == "DB primary at 100% CPU since 09:58"
    assert rows[int(second["id"])].content == "restarting the replica"  # kept for the record
    world_messages = {m["id"] for m in await control.messages(general)}
    assert not world_messages & {str(i) for i in rows}


async def test_a_restart_loses_no_message_and_doubles_none(bot, control):
    channel = await declare(control)
    bob, carol = await control.user_id("bob"), await control.user_id("carol")
    before = [await control.post(bob, channel, f"before {n}") for n in range(3)]
    await wait_ids(bot, control, channel, [m["id"] for m in before])
    await bot.stop()
    during = [await control.post(carol, channel, f"while the bot was away {n}") for n in range(130)]
    await bot.start()
    everything = await control.messages(channel)
    rows = await wait_kept(bot, control, channel, len(everything))
    ids = [r.message_id for r in rows]
    assert len(ids) == len(set(ids)) == len(everything)
    assert {int(m["id"]) for m in during} <= set(ids)
    assert {int(m["id"]) for m in before} <= set(ids)
    # A live message after the backfill is kept once too.
    await control.post(bob, channel, "after")
    rows = await wait_kept(bot, control, channel, len(everything) + 1)
    assert len({r.message_id for r in rows}) == len(rows)


async def test_a_threads_messages_belong_to_its_incident_live_and_after_a_restart(
    bot, control, world
):
    channel = await declare(control)
    bob = await control.user_id("bob")
    state = world.discord.state
    thread = state.start_thread(int(channel), {"name": "db-investigation", "type": 11}, int(bob))
    live = await control.post(bob, str(thread.id), "replica lag is 40 s")
    rows = await wait_ids(bot, control, channel, [live["id"]])
    assert (rows[int(live["id"])].channel_id, rows[int(live["id"])].thread_id) == (
        channel,
        str(thread.id),
    )
    await bot.stop()
    away = await control.post(bob, str(thread.id), "lag back to 0")
    await bot.start()
    rows = await wait_ids(bot, control, channel, [away["id"]])
    assert rows[int(away["id"])].thread_id == str(thread.id)


async def test_a_gateway_gap_without_resume_is_backfilled_on_the_new_session(bot, control):
    channel = await declare(control)
    bob = await control.user_id("bob")
    first = await control.post(bob, channel, "before the gap")
    await wait_ids(bot, control, channel, [first["id"]])
    # The session is lost (no RESUME): Discord replays nothing of what happened meanwhile.
    await control.fault("invalid_session", count=1)
    await control.fault("disconnect", count=1)
    during = [await control.post(bob, channel, f"during the gap {n}") for n in range(5)]
    rows = await control.wait_for(
        lambda: wait_ids(bot, control, channel, [m["id"] for m in during]),
        timeout=30,
        what="the gap backfilled",
    )
    assert len(rows) == len({r for r in rows})
    gateway = await control.request("GET", "gateway")
    assert gateway["identifies"] >= 2  # a new session, not a resume
