"""The outbox on a real SQLite file: a row first, the effect once, "in doubt" after a crash."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.clock import ManualClock
from bot.core.outbox import EffectState, Outbox, Refused, Retry, not_before
from storage import outbox as queries
from storage.db import make_engine, make_sessions, upgrade


@pytest.fixture
async def outbox(tmp_path: Path):
    path = tmp_path / "bot.sqlite3"
    upgrade(path)
    engine = make_engine(path)
    sessions = make_sessions(engine)
    yield Outbox(sessions, ManualClock()), sessions
    await engine.dispose()


async def _add(outbox: Outbox, sessions, key: str = "page:1:1") -> int:
    async with sessions.begin() as session:
        entry = outbox.add(session, "page", key, {"to": "alice"})
    return entry.id


async def test_an_effect_runs_once_and_its_result_is_kept(outbox):
    box, sessions = outbox
    entry_id = await _add(box, sessions)
    calls = []

    async def effect(entry):
        calls.append(entry.payload["to"])
        return {"message_id": "42"}

    done = await box.deliver(entry_id, effect)
    again = await box.deliver(entry_id, effect)  # a retry, a second timer, a second replica
    assert calls == ["alice"]
    assert done.state == again.state == EffectState.DONE
    assert again.result == {"message_id": "42"} and again.attempts == 1


async def test_retry_leaves_it_pending_and_refused_fails_it(outbox):
    box, sessions = outbox
    first, second = await _add(box, sessions, "a"), await _add(box, sessions, "b")

    async def unavailable(entry):
        raise Retry("Discord answered 503")

    async def refused(entry):
        raise Refused("Missing Permissions")

    assert (await box.deliver(first, unavailable)).state == EffectState.PENDING
    failed = await box.deliver(second, refused)
    assert failed.state == EffectState.FAILED and "Missing Permissions" in failed.last_error


async def test_an_unknown_outcome_is_in_doubt_and_never_sent_again(outbox):
    box, sessions = outbox
    entry_id = await _add(box, sessions)

    async def dies(entry):
        raise ConnectionResetError("reset mid-request")

    with pytest.raises(ConnectionResetError):
        await box.deliver(entry_id, dies)
    calls = []

    async def effect(entry):
        calls.append(1)

    assert (await box.deliver(entry_id, effect)).state == EffectState.IN_DOUBT
    assert calls == []
    released = await box.release(entry_id)  # a person checked: it is missing
    assert released.state == EffectState.PENDING
    assert (await box.deliver(entry_id, effect)).state == EffectState.DONE
    assert calls == [1]


async def test_after_a_crash_the_verifier_settles_what_was_being_sent(outbox):
    box, sessions = outbox
    found_id, absent_id, unknown_id = [await _add(box, sessions, k) for k in "xyz"]
    for entry_id in (found_id, absent_id, unknown_id):  # the run that died had claimed them
        async with sessions.begin() as session:
            await queries.claim(session, entry_id, box._clock.now())

    async def verify(entry):
        if entry.key == "x":
            return {"message_id": "7"}
        if entry.key == "y":
            return None
        raise TimeoutError("channel history unavailable")

    box.register_verifier("page", verify)
    doubtful = await box.recover()
    async with sessions() as session:
        states = {e.key: e.state for e in await queries.of_kind(session, "page")}
    assert states == {"x": "done", "y": "pending", "z": "in_doubt"}
    assert [e.key for e in doubtful] == ["z"]


async def test_without_a_verifier_a_crash_leaves_it_in_doubt(outbox):
    box, sessions = outbox
    entry_id = await _add(box, sessions)
    async with sessions.begin() as session:
        await queries.claim(session, entry_id, box._clock.now())
    [doubtful] = await box.recover()
    assert doubtful.id == entry_id and doubtful.state == EffectState.IN_DOUBT


async def test_what_the_other_side_asked_to_wait_is_kept_with_the_pending_entry(outbox):
    box, sessions = outbox
    entry_id = await _add(box, sessions)
    asked = timedelta(seconds=900)

    async def rate_limited(entry):
        raise Retry("X answered 429", not_before=asked)

    now = box._clock.now()
    assert not_before(await box.deliver(entry_id, rate_limited)) == now + asked
    async with sessions() as session:  # on the row: a restart, another replica sees it
        stored = await queries.get(session, entry_id)
    assert stored is not None and not_before(stored) == now + asked

    async def unavailable(entry):
        raise Retry("Discord answered 503")  # asks nothing: nothing to wait for

    assert not_before(await box.deliver(entry_id, unavailable)) is None

    async def sent(entry):
        return {"message_id": "42"}

    done = await box.deliver(entry_id, sent)
    assert done.result == {"message_id": "42"} and not_before(done) is None
