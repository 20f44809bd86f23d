"""The follow-up phase put together (called once by ``bot.services.build_services``)."""

from __future__ import annotations

from datetime import date

from bot.errors import ExternalServiceError
from bot.follow_up.archive import Archive
from bot.follow_up.closeout import CloseOut
from bot.follow_up.items import ActionItems
from bot.follow_up.reminders import Reminders
from bot.follow_up.service import FollowUpService
from bot.follow_up.stats import StatsService
from bot.follow_up.tracker import PlanTracker
from bot.postmortem.build import Parts
from bot.postmortem.service import PostmortemService
from storage.models import Incident


def build_follow_up(parts: Parts) -> FollowUpService:
    incidents, sessions, out, renderer = parts.incidents, parts.sessions, parts.out, parts.renderer
    timers, clock, locks = parts.timers, parts.clock, parts.locks
    config = parts.settings.config
    section = config.follow_up
    service = FollowUpService(config, incidents)

    def today() -> date:
        return clock.now().astimezone(config.zone).date()

    def label(incident: Incident) -> str:
        return f"{incidents.local_date(incident).isoformat()} {incident.slug}"

    def link(incident: Incident) -> str | None:
        if incident.github_issue_url:
            return incident.github_issue_url
        if incident.channel_id is None:
            return None
        try:
            guild = out.guild.id
        except ExternalServiceError:  # the guild not known yet (the bot is starting)
            return None
        return f"https://discord.com/channels/{guild}/{incident.channel_id}"

    postmortem = config.postmortem
    service.tracker = PlanTracker(
        sessions,
        renderer,
        today,
        label,
        link,
        config.ops_repo.url,
        parts.checkout(section.checkout, "follow-up-repo"),
        postmortem.branch or config.ops_repo.branch,
        (postmortem.author_name, postmortem.author_email),
        parts.ops_repo_token(),
    )
    service.items = ActionItems(sessions, out, clock, locks, today, label, service.tracker)
    service.today = today
    service.reminders = Reminders(
        section,
        sessions,
        out,
        timers,
        clock,
        config.zone,
        today,
        label,
        config.discord.ops_alerts_channel,
        locks,
    )
    service.reminders.attach(service.items)
    service.closeout = CloseOut(
        section, config.procedure, sessions, out, clock, locks, config.permissions
    )
    service.archive = Archive(
        section,
        config.procedure,
        sessions,
        out,
        timers,
        clock,
        config.discord.ops_alerts_channel,
    )
    service.closeout.after_close.append(service.archive.archive)
    postmortem_rule = PostmortemService(config, incidents)  # the rule alone: due_of
    service.stats = StatsService(
        sessions,
        clock,
        today,
        postmortem_rule.due_of,
        lambda name: incidents.severity(name).name,
    )
    return service
