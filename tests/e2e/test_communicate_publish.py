"""Publishing an approved X post while another run of the same publish is under way (two
timers of one post: a retry's and one a restart left behind). The second finds the row
claimed; it must leave the post to the one sending it, not call it in doubt."""

from __future__ import annotations

import asyncio

from tests.e2e.helpers import sql
from tests.e2e.test_communicate import (
    approval_request,
    approve,
    declare,
    overlay,
    stopped_while_x_had_it,
    x_posted,
)

__all__ = ["overlay"]  # the communicate module's world configuration


async def test_a_second_publish_while_the_first_sends_leaves_the_post_to_it(
    bot, control, monkeypatch
):
    channel = await declare(control, "Bridge relayer stalled", "P0")
    request = await approval_request(control, channel["id"])
    publishing = bot.services.comms.publishing
    send, sending, release = publishing._send, asyncio.Event(), asyncio.Event()

    async def held_send(entry):  # type: ignore[no-untyped-def]
        sending.set()
        await release.wait()
        return await send(entry)

    monkeypatch.setattr(publishing, "_send", held_send)
    await approve(control, "alice", channel["id"], request)
    await asyncio.wait_for(sending.wait(), 30)  # the approval's publish has X's request out
    [(post_id,)] = await sql(bot, "SELECT id FROM external_posts")

    await publishing.publish(post_id)  # a second timer of the same post meanwhile
    [(state,)] = await sql(bot, "SELECT state FROM external_posts")
    assert state in ("approved", "publishing")  # still the first run's, not "in doubt"

    release.set()
    await x_posted(control)
    await bot.services.comms.idle()
    [(state,)] = await sql(bot, "SELECT state FROM external_posts")
    assert state == "posted"
    assert len(await control.x_posts()) == 1
    messages = await control.messages(channel["id"])
    assert not any("may or may not be up" in m["content"] for m in messages)


async def test_a_post_in_doubt_is_never_told_as_one_that_did_not_go_out(bot, control):
    # The bot stopped while X had the request: the post may well be up (the restarts drill
    # kills the bot with the post on X). Saying it "did not go out" invites a second
    # approval of a post that is there.
    told = await stopped_while_x_had_it(bot, control, "Keeper stalled")
    assert "did not go out" not in told["content"]
    assert told["content"].startswith("⚠️ The post to X is in doubt")
    await bot.services.comms.idle()
    [(text,)] = await sql(bot, "SELECT text FROM timeline_events WHERE kind = 'external_in_doubt'")
    assert "not published" not in text and text.startswith("X post in doubt")
