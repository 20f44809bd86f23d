"""The storm digest posts each chunk once (bot/alerts/notes.py ``DigestPoster``), Discord
stood in: a chunk a stopped run committed but never posted is posted as it was, and the
entries it holds are in no other chunk."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot.adapters.notices import ChannelNotices
from bot.alerts.notes import DigestPoster, digest_key
from bot.alerts.steps import Schedule
from bot.alerts.writer import Writer
from bot.core.clock import ManualClock
from bot.core.outbox import Outbox
from bot.core.render import Renderer
from bot.settings import parse_config
from storage.db import make_engine, make_sessions, upgrade
from storage.models import AlertGroup

OPS = SimpleNamespace(id=900)


class Discord:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, channel_id: str, **message: Any) -> str:
        self.sent.append({"channel_id": channel_id, **message})
        return str(1000 + len(self.sent))

    async def find_own_message(self, _channel_id, footer, **_) -> str | None:
        return next(
            (str(1001 + n) for n, m in enumerate(self.sent) if m["embed"].footer == footer), None
        )

    def text_channel(self, _name: str) -> SimpleNamespace:
        return OPS


class OnCall:
    async def at(self) -> SimpleNamespace:
        return SimpleNamespace(primary_id="77")


@pytest.fixture
async def poster(tmp_path: Path):
    path = tmp_path / "bot.sqlite3"
    upgrade(path)
    engine = make_engine(path)
    sessions = make_sessions(engine)
    clock = ManualClock()
    discord = Discord()
    config = parse_config({"alerts": {"storm_limit": 3}})
    notices = ChannelNotices(sessions, Outbox(sessions, clock), discord)  # type: ignore[arg-type]
    digest = DigestPoster(
        config,
        sessions,
        discord,  # type: ignore[arg-type]
        OnCall(),  # type: ignore[arg-type]
        Renderer(config.zone),
        Writer(path),
        clock,
        Schedule(wake=lambda: None),
        notices,
    )
    yield SimpleNamespace(
        digest=digest, discord=discord, sessions=sessions, notices=notices, path=path
    )
    await engine.dispose()


async def _groups(sessions, *titles: str) -> None:
    async with sessions.begin() as session:
        for title in titles:
            session.add(AlertGroup(source="generic", group_key=title, state="digest", title=title))


def _recorded(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT id, digest_message_id FROM alert_groups ORDER BY id").fetchall()


async def _committed(poster, group_ids: list[int], content: str, mention=()) -> Any:
    """A digest chunk's notice as a run commits it before posting it."""
    async with poster.sessions.begin() as session:
        return await poster.notices.add(
            session,
            digest_key(group_ids[0]),
            str(OPS.id),
            content,
            title="Alert digest",
            label="alert digest",
            mention_users=mention,
            data={"groups": group_ids},
        )


async def test_a_chunk_committed_by_a_stopped_run_is_posted_as_it_was_and_only_once(poster):
    await _groups(poster.sessions, "first", "second")
    # The run that stopped: the chunk of groups 1 and 2 committed, never posted.
    await _committed(poster, [1, 2], "the chunk as it was", mention=("77",))
    await _groups(poster.sessions, "third")  # came after the stop

    assert await poster.digest.post()
    sent = poster.discord.sent
    assert [m["content"] for m in sent[:1]] == ["the chunk as it was"]
    assert len(sent) == 2
    assert "third" in sent[1]["content"]
    assert "first" not in sent[1]["content"] and "second" not in sent[1]["content"]
    assert sent[1]["mention_users"] == ()  # the primary was mentioned by the first chunk
    assert _recorded(poster.path) == [(1, "1001"), (2, "1001"), (3, "1002")]

    assert not await poster.digest.post()  # nothing left to list
    assert len(poster.discord.sent) == 2


async def test_a_chunk_posted_before_a_stop_is_found_by_its_footer_not_posted_again(poster):
    await _groups(poster.sessions, "first")
    entry = await _committed(poster, [1], "x")
    # Discord took it, the run stopped before settling: the outbox row is in doubt.
    with sqlite3.connect(poster.path) as db:
        db.execute("UPDATE outbox SET state = 'in_doubt', attempts = 1 WHERE id = ?", (entry.id,))
    poster.discord.sent.append(
        {
            "channel_id": str(OPS.id),
            "content": "x",
            "embed": SimpleNamespace(footer=f"alert digest · outbox:{entry.id}"),
        }
    )

    assert await poster.digest.post()
    assert len(poster.discord.sent) == 1
    assert _recorded(poster.path) == [(1, "1001")]
