"""The composition root: every service built once from Settings and passed down."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.adapters.chain import RPC, ChainClient
from bot.adapters.discord_out import DiscordOut
from bot.adapters.notices import ChannelNotices
from bot.alerts.service import AlertService
from bot.communicate import CommsService, github_client, x_client
from bot.core.clock import Clock
from bot.core.locks import IncidentLocks
from bot.core.outages import Outages
from bot.core.outbox import Fence, Outbox
from bot.core.permissions import role_uses
from bot.core.render import Renderer
from bot.core.timers import TimerService
from bot.follow_up.build import build_follow_up
from bot.follow_up.service import FollowUpService
from bot.follow_up.tracker_retry import OPS_REPO, TrackerRetry
from bot.mitigate.actions import target_names
from bot.mitigate.base import MitigateDeps
from bot.mitigate.fixes import FixService
from bot.mitigate.service import MitigateService
from bot.mitigate.signers import SignerRegistry
from bot.postmortem.build import Parts, build_postmortem
from bot.postmortem.service import PostmortemService
from bot.settings import Settings
from bot.triage.oncall import OnCallService
from bot.triage.rotation import DEFAULT_HANDOVER, RotationSource, Shift, parse_moment
from bot.triage.service import IncidentService
from bot.watch.config import referenced_names as watch_names
from bot.watch.service import ChainWatch
from storage.db import make_engine, make_sessions


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    discord: DiscordOut
    renderer: Renderer
    timers: TimerService
    oncall: OnCallService
    incidents: IncidentService
    alerts: AlertService
    clock: Clock = field(default_factory=Clock)
    locks: IncidentLocks = field(
        default_factory=IncidentLocks
    )  # the one per-incident lock registry
    extra: dict[str, Any] = field(default_factory=dict)  # services later phases add
    comms: CommsService | None = None
    # Steps 3-5: the playbook filled, the postmortem rule, the follow-up checklist.
    mitigate: MitigateService = field(kw_only=True)
    postmortem: PostmortemService = field(kw_only=True)
    follow_up: FollowUpService = field(kw_only=True)
    outbox: Outbox | None = None  # effects that must happen once (bot/core/outbox.py)
    notices: ChannelNotices | None = None  # messages posted once (bot/adapters/notices.py)
    fixes: FixService | None = None  # P1-P3: hotfix branch, its deploys, the ticket
    watch: ChainWatch | None = None  # the chain watch ([watch]): declares P0s itself

    async def close(self) -> None:
        if self.watch is not None:
            await self.watch.stop()
        await self.alerts.stop()
        await self.incidents.stop()
        await self.timers.stop()
        await self.postmortem.transcript.stop()
        if self.comms is not None:
            await self.comms.stop()
        if self.fixes is not None:
            await self.fixes.stop()
        if self.mitigate.deps is not None and self.mitigate.deps.chain is not None:
            await self.mitigate.deps.chain.close()
        await self.engine.dispose()


def rotation_path(settings: Settings) -> Path | None:
    config = settings.config
    if config.rotation.path is None or config.rotation.shifts:
        return None
    if config.rotation.path.is_absolute():
        return config.rotation.path
    return settings.resolve(config.ops_repo.checkout) / config.rotation.path


def rotation_source(settings: Settings) -> RotationSource:
    config = settings.config
    # Inline shifts use the same moment syntax as the Markdown table.
    inline = [
        Shift(
            parse_moment(s.start, config.zone, DEFAULT_HANDOVER),
            parse_moment(s.end, config.zone, DEFAULT_HANDOVER),
            s.primary,
            s.secondary,
            number,
        )
        for number, s in enumerate(config.rotation.shifts, start=1)
    ]
    return RotationSource(rotation_path(settings), inline, config.zone)


def mitigate_deps(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    out: DiscordOut,
    incidents: IncidentService,
    timers: TimerService,
    clock: Clock,
    locks: IncidentLocks,
    outbox: Outbox,
    notices: ChannelNotices,
) -> MitigateDeps:
    """P0 mitigation's dependencies: the chain (when an RPC is configured), the signer
    registry, and the actions' target names (the environment is read here, at start)."""
    config = settings.config
    chain_config = config.mitigate.chain
    chain = None
    if chain_config.rpc_url:
        chain = ChainClient(
            chain_config.rpc_url, chain_config.chain_id, chain_config.request_timeout
        )
    registry = SignerRegistry(config, sessions, clock, lambda: str(out.guild.id), incidents.actor)
    watched = watch_names(config.watch)
    names, _problems = target_names(config.mitigate, os.environ, also=watched)  # check-config says
    return MitigateDeps(
        config,
        sessions,
        out,
        incidents,
        timers,
        clock,
        locks,
        outbox,
        notices,
        registry,
        chain,
        names,
        settings.secrets.chain_executor_key,
    )


def watch_outages(
    settings: Settings,
    services: tuple[CommsService, PostmortemService, FollowUpService, ChainClient | None],
    alerts: AlertService,
    notices: ChannelNotices,
    timers: TimerService,
    clock: Clock,
) -> None:
    """GitHub, X, the ops repository's remote and the chain's RPC not answering: named by
    /healthz (one part each), told once by the callers, the work retried until back."""
    comms, postmortem, follow_up, chain = services
    outages = Outages()
    if chain is not None:  # mitigation's and the watch's reads (the watch tells #ops-alerts)
        chain.outages = outages
        alerts.health_parts[RPC] = chain.health
    comms.github_issues.outages = comms.publishing.outages = outages
    comms.github_issues.notices = notices
    postmortem.publishing.outages = outages
    ops = f"#{settings.config.discord.ops_alerts_channel}"
    TrackerRetry(follow_up.tracker, comms.deps.sessions, timers, notices, clock, ops, outages)
    for system, client in (
        ("github", comms.deps.github),
        ("x", comms.deps.x),
        (OPS_REPO, settings.config.ops_repo.url),
    ):
        if client is not None:
            alerts.health_parts[system] = outages.part(system)


def build_services(
    settings: Settings,
    client: discord.Client,
    clock: Clock | None = None,
    fence: Fence | None = None,  # the replica lease's token: effects only while it is current
) -> Services:
    config = settings.config
    clock = clock or Clock()
    locks = IncidentLocks()
    engine = make_engine(settings.database)
    sessions = make_sessions(engine)
    outbox = Outbox(sessions, clock, fence)
    out = DiscordOut(client, config.discord.guild_id, role_uses(config))
    renderer = Renderer(config.zone, overrides=settings.template_overrides())
    timers = TimerService(sessions, clock, fence)
    notices = ChannelNotices(sessions, outbox, out, timers, locks, clock)
    oncall = OnCallService(
        sessions, rotation_source(settings), out, config.permissions, config.zone, clock=clock
    )
    incidents = IncidentService(
        config,
        sessions,
        out,
        oncall,
        timers,
        renderer,
        clock=clock,
        locks=locks,
        outbox=outbox,
        notices=notices,
    )
    comms = CommsService(
        settings,
        sessions,
        out,
        incidents,
        timers,
        renderer,
        x_client(settings),
        github_client(settings),
        clock=clock,
        locks=locks,
        outbox=outbox,
    )
    incidents.subscribe(comms.on_event)
    # Communicate's deadlines, by name, for /incident status (triage does not import comms).
    incidents.name_deadline("comms_update_reminder", "next status update due")
    incidents.name_deadline("comms_external_due", "X post to draft for approval")
    fixes = FixService(settings, comms, notices)  # registers its timers before they start
    alerts = AlertService(
        settings, sessions, incidents, out, oncall, renderer, clock=clock, notices=notices
    )
    deps = mitigate_deps(settings, sessions, out, incidents, timers, clock, locks, outbox, notices)
    mitigate = MitigateService(config, incidents, deps)
    names = {**config.mitigate.addresses, **deps.names}
    watch = ChainWatch(
        config, deps.chain, sessions, incidents, notices, deps.ops_alerts_id, clock, locks, names
    )
    parts = Parts(settings, incidents, sessions, out, renderer, timers, clock, locks)
    follow_up = build_follow_up(parts)
    follow_up.stats.register(alerts.metrics.registry)  # the follow-up numbers on /metrics
    alerts.gauge_refreshers.append(follow_up.stats.refresh)
    if watch.enabled:
        alerts.health_parts["watcher"] = watch.health
    postmortem = build_postmortem(parts)
    watch_outages(
        settings, (comms, postmortem, follow_up, deps.chain), alerts, notices, timers, clock
    )
    return Services(
        settings,
        engine,
        sessions,
        out,
        renderer,
        timers,
        oncall,
        incidents,
        alerts,
        clock=clock,
        locks=locks,
        comms=comms,
        mitigate=mitigate,
        postmortem=postmortem,
        follow_up=follow_up,
        outbox=outbox,
        notices=notices,
        fixes=fixes,
        watch=watch,
    )
