"""Shared steps of the postmortem phase's end-to-end tests."""

from __future__ import annotations

from typing import Any

from bot.errors import WrongChannel
from sandbox.control_client import Control
from storage import transcript as transcript_queries
from storage.models import TranscriptMessage
from tests.e2e.helpers import ALWAYS_ON_CALL, incident_channel_id

QUIET = {"escalate_after": "1h", "respond_within": "2h"}  # no pages while a test runs
OVERLAY: dict[str, Any] = {
    **ALWAYS_ON_CALL,
    "procedure": {"severities": {name: dict(QUIET) for name in ("P0", "P1", "P2")}},
}


async def declare(control: Control, title: str = "Site down", severity: str = "P1") -> str:
    erin = await control.user_id("erin")
    general = await control.channel_id("general")
    await control.command(erin, general, "incident", "declare", title=title, severity=severity)
    slug = "-".join(title.lower().split())
    return await incident_channel_id(control, slug)


async def kept(bot: Any, channel_id: str) -> list[TranscriptMessage]:
    """The incident's kept messages (none while its channel is still being opened)."""
    try:
        incident = await bot.services.incidents.in_channel(channel_id)
    except WrongChannel:
        return []
    async with bot.services.sessions() as session:
        return await transcript_queries.of_incident(session, incident.id)


async def wait_kept(
    bot: Any, control: Control, channel_id: str, count: int
) -> list[TranscriptMessage]:
    async def probe() -> list[TranscriptMessage] | None:
        rows = await kept(bot, channel_id)
        return rows if len(rows) >= count else None

    return await control.wait_for(probe, what=f"{count} kept messages")


async def wait_ids(
    bot: Any, control: Control, channel_id: str, ids: list[str]
) -> dict[int, TranscriptMessage]:
    """The kept messages, once every one of ``ids`` is among them."""
    wanted = {int(i) for i in ids}

    async def probe() -> dict[int, TranscriptMessage] | None:
        rows = {r.message_id: r for r in await kept(bot, channel_id)}
        return rows if wanted <= set(rows) else None

    return await control.wait_for(probe, what=f"messages {sorted(wanted)} kept")
