"""The postmortem phase put together (called once by ``bot.services.build_services``), and
``Parts``: what the later phases (postmortem, follow-up) are built from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.discord_out import DiscordOut
from bot.core.clock import Clock
from bot.core.locks import IncidentLocks
from bot.core.render import Renderer
from bot.core.timers import TimerService
from bot.postmortem.deadline import DeadlineService
from bot.postmortem.drafting import DraftService
from bot.postmortem.notes import NotesService
from bot.postmortem.publishing import PublishService
from bot.postmortem.service import PostmortemService
from bot.postmortem.timeline import TimelineService
from bot.postmortem.transcript import TranscriptService
from bot.settings import Settings
from bot.triage.service import IncidentService


@dataclass(frozen=True)
class Parts:
    settings: Settings
    incidents: IncidentService
    sessions: async_sessionmaker[AsyncSession]
    out: DiscordOut
    renderer: Renderer
    timers: TimerService
    clock: Clock
    locks: IncidentLocks

    def checkout(self, configured: Path | None, default: str) -> Path:
        """A phase's clone of the ops repository: ``configured``, else ``default`` in the
        data directory."""
        if configured is not None:
            return self.settings.resolve(configured)
        return self.settings.resolve(self.settings.config.data_dir) / default

    def ops_repo_token(self) -> str | None:
        token = self.settings.secrets.ops_repo_token
        return token.get_secret_value() if token is not None else None


def build_postmortem(parts: Parts) -> PostmortemService:
    settings, incidents, sessions, out = parts.settings, parts.incidents, parts.sessions, parts.out
    renderer, timers, clock, locks = parts.renderer, parts.timers, parts.clock, parts.locks
    config = settings.config
    section = config.postmortem
    service = PostmortemService(config, incidents)
    service.out, service.clock = out, clock
    service.transcript = TranscriptService(sessions, out, clock, section.backfill_limit)
    incidents.subscribe(service.transcript.on_event)
    service.timeline = TimelineService(
        section, sessions, out, service.transcript, clock, locks, config.zone
    )
    service.notes = NotesService(sessions, locks)
    service.drafts = DraftService(
        sessions,
        renderer,
        config.procedure,
        config.zone,
        service.timeline.name_of,
        incidents.local_date,
    )
    service.deadline = DeadlineService(
        section,
        sessions,
        out,
        incidents.deps.notices,
        timers,
        clock,
        service.due_of,
        config.discord.admin_role,
        config.discord.ops_alerts_channel,
    )
    incidents.subscribe(service.deadline.on_event)
    service.publishing = PublishService(
        section,
        sessions,
        clock,
        locks,
        config.ops_repo.url,
        parts.checkout(section.checkout, "postmortem-repo"),
        section.branch or config.ops_repo.branch,
        parts.ops_repo_token(),
    )
    return service
