"""The alerts phase put together: store, worker, credentials, metrics, and the server they feed."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.discord_out import DiscordOut
from bot.adapters.notices import ChannelNotices
from bot.alerts.auth import Authenticator
from bot.alerts.metrics import AlertMetrics
from bot.alerts.server import AlertServer
from bot.alerts.store import NotificationStore
from bot.alerts.worker import AlertWorker
from bot.alerts.writer import Writer
from bot.core.clock import Clock
from bot.core.render import Renderer
from bot.settings import Settings
from bot.triage.lifecycle import OPEN_STATES
from bot.triage.oncall import OnCallService
from bot.triage.service import IncidentEvent, IncidentService
from storage import alerts as queries
from storage.db import is_postgres, make_engine, make_sessions, ping

log = logging.getLogger(__name__)


class AlertService:
    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        incidents: IncidentService,
        discord: DiscordOut,
        oncall: OnCallService,
        renderer: Renderer,
        metrics: AlertMetrics | None = None,
        clock: Clock | None = None,
        notices: ChannelNotices | None = None,
    ) -> None:
        config = settings.config
        clock = clock or Clock()
        self._settings = settings
        self._sessions = sessions
        self.metrics = metrics if metrics is not None else AlertMetrics()
        # Other phases' gauges on the same /metrics, refreshed with these (follow-up stats).
        self.gauge_refreshers: list[Callable[[], Awaitable[None]]] = []
        # The hot writes (webhook commits, apply rounds) go through one writer thread;
        # the worker reads, and checkpoints the WAL, on connections of its own that
        # never checkpoint on commit (see bot/alerts/writer.py).
        database = settings.database
        self.writer = Writer(database)
        self._engine = make_engine(database)
        if not is_postgres(database):
            event.listen(self._engine.sync_engine, "connect", queries.no_autocheckpoint)
        self.worker = AlertWorker(
            config,
            make_sessions(self._engine),
            incidents,
            discord,
            oncall,
            renderer,
            self.metrics,
            self.writer,
            clock,
            notices,
        )
        self.store = NotificationStore(
            self.writer,
            on_stored=self.worker.wake,
            replay_window=config.alerts.replay_window,
            clock=clock,
        )
        secrets = settings.secrets
        self.auth = Authenticator.from_secrets(
            [t.get_secret_value() for t in secrets.webhook_bearer_tokens],
            [s.get_secret_value() for s in secrets.webhook_hmac_secrets],
            signature_header=config.alerts.signature_header,
            timestamp_header=config.alerts.timestamp_header,
            replay_window=config.alerts.replay_window.total_seconds(),
            require_timestamp=config.alerts.require_timestamp,
        )
        incidents.subscribe(self._on_incident)
        # Other parts /healthz names when failing (the chain watch, outside systems):
        # name → (ok, details), or an awaitable of it (a part that probes).
        self.health_parts: dict[str, Callable[[], Any]] = {}

    async def _on_incident(self, event: IncidentEvent) -> None:
        if event.kind == "declared":
            self.metrics.incidents_opened.labels(event.incident.source).inc()

    def server(self, gateway_state: Callable[[], str] = lambda: "unknown") -> AlertServer:
        config = self._settings.config
        if not self.auth.configured:
            log.warning(
                "no webhook credentials configured: every alert will be refused with 401 "
                "(set INCIDENT_BOT_WEBHOOK_BEARER_TOKENS or INCIDENT_BOT_WEBHOOK_HMAC_SECRETS)"
            )

        async def health() -> tuple[bool, dict[str, Any]]:
            return await self.health(gateway_state())

        return AlertServer(
            host=config.webhook.host,
            port=config.webhook.port,
            max_body_bytes=config.webhook.max_body_bytes,
            max_alerts=config.alerts.max_alerts,
            auth=self.auth,
            store=self.store,
            metrics=self.metrics,
            health=health,
            refresh_gauges=self.refresh_gauges,
            header_timeout=config.webhook.header_timeout.total_seconds(),
            read_timeout=config.webhook.read_timeout.total_seconds(),
        )

    async def start(self) -> None:
        """Start the worker: it first applies whatever the last run stored and left."""
        await self.worker.start()
        self.worker.wake()

    async def stop(self) -> None:
        await self.store.close()
        await self.worker.stop()
        await self.writer.close()
        await self._engine.dispose()

    async def health(self, gateway: str) -> tuple[bool, dict[str, Any]]:
        """Healthy only when the database answers (and, after a failed commit, takes a write
        probe: a full disk reads fine), the gateway is connected, the worker runs
        and no timer of an open incident is failing.

        Anything else is a 503 naming the failing parts, so a load balancer or an uptime
        check sees a bot that stores alerts but can open no incident from them.
        """
        body: dict[str, Any] = {
            "gateway": gateway,
            "worker": "running" if self.worker.running else "stopped",
        }
        try:
            async with self._sessions() as session:
                await ping(session)
            body["pending_notifications"] = await self.store.pending()
            writes = await self.writer.writes_fail()  # reads answer, writes may not
            body["database"] = "ok" if writes is None else f"writes failing ({writes})"
        except Exception as error:
            body["database"] = f"unavailable ({type(error).__name__})"
        # A timer that fails (a page, a reminder) is retried, then given up: either way a
        # person must hear of it, so it is named here until its incident is over.
        from storage.timers import failing as failing_timers

        timers_ok = True
        if body["database"] == "ok":
            try:
                async with self._sessions() as session:
                    rows = await failing_timers(session)
                body["failing_timers"] = [
                    {
                        "id": t.id,
                        "kind": t.kind,
                        "incident_id": t.incident_id,
                        "state": t.state,
                        "attempts": t.attempts,
                    }
                    for t in rows
                ]
                timers_ok = not rows
            except Exception as error:
                body["failing_timers"] = f"unknown ({type(error).__name__})"
                timers_ok = False
        parts = [
            ("database", body["database"] == "ok"),
            ("gateway", gateway == "connected"),
            ("worker", self.worker.running),
            ("timers", timers_ok),
        ]
        if gateway == "standby":
            # Another replica holds the lease (bot/replica/): this one only stores alerts,
            # which is healthy as long as the database answers.
            parts = [("database", body["database"] == "ok")]
        for name, part in self.health_parts.items():
            answer = part()
            part_ok, body[name] = await answer if inspect.isawaitable(answer) else answer
            parts.append((name, part_ok))
        failing = [part for part, ok in parts if not ok]
        body["status"] = "unavailable" if failing else "standby" if gateway == "standby" else "ok"
        body["failing"] = failing
        return not failing, body

    async def refresh_gauges(self) -> None:
        async with self._sessions() as session:
            open_count = await queries.count_incidents(session, [s.value for s in OPEN_STATES])
        self.metrics.open_incidents.set(open_count)
        self.metrics.pending_notifications.set(await self.store.pending())
        for refresh in self.gauge_refreshers:
            await refresh()
