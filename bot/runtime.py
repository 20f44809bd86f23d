"""Starting and stopping everything the bot runs in one process."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Awaitable, Sequence

from bot.adapters.git import ensure_checkout
from bot.alerts.metrics import AlertMetrics, discord_trace
from bot.alerts.server import AlertServer
from bot.client import PHASES, IncidentBot, configure_discord, stop_heartbeats
from bot.core.clock import Clock
from bot.replica.lease import Replica
from bot.replica.webhook import WebhookSocket, WebhookUnavailable
from bot.settings import Settings

log = logging.getLogger(__name__)


class BotRuntime:
    """The bot and its alert webhook server inside the running event loop.

    The webhook server starts once the services exist (after login, before the
    gateway), so alerts are stored even while the gateway is still connecting;
    the alert worker starts when the bot is ready and first finishes what the
    last run stored.

    Between the webhook server and the gateway stands the replica lease
    (bot/replica/): a standby stores alerts and says "standby" on ``/healthz``
    until the lease is its own; only then does it connect, and the timers, the
    alert worker and the chain watch start with the ready bot. Losing the lease
    closes the bot at once (``LeaseLost``): ``incident-bot run`` starts over as a
    standby. With SQLite the lease is taken at once (one replica).
    """

    def __init__(
        self,
        settings: Settings,
        extensions: Sequence[str] = PHASES,
        clock: Clock | None = None,  # tests inject a ManualClock
        webhook: WebhookSocket | None = None,  # the process's, kept across a step-down
    ) -> None:
        self.settings = settings
        self.webhook = webhook
        self.metrics: AlertMetrics | None = None  # the services' registry, once built
        self.replica = Replica(settings.database, settings.config.replica)
        self.bot = IncidentBot(
            settings,
            extensions,
            http_trace=discord_trace(lambda: self.metrics),
            clock=clock,
            fence=self.replica.token,
        )
        self.alert_server: AlertServer | None = None
        self.finished: asyncio.Task[None]

    async def start(self) -> None:
        config = self.settings.config
        token = self.settings.secrets.discord_token
        if token is None:
            raise RuntimeError("no Discord token configured")
        configure_discord(self.settings)
        await ensure_checkout(
            config.ops_repo.url,
            self.settings.resolve(config.ops_repo.checkout),
            config.ops_repo.branch,
        )
        self.finished = asyncio.create_task(self._run(token.get_secret_value()), name="discord")

    async def _run(self, token: str) -> None:
        """``Client.start`` (login, then connect) with the webhook server in between."""
        await self.bot.login(token)
        # Before the gateway and the webhook: the first page does not wait for the compiler.
        self.bot.services.renderer.compile_all()
        alerts = self.bot.services.alerts
        self.metrics = alerts.metrics
        self.alert_server = alerts.server(self._gateway_state)
        if (fixes := self.bot.services.fixes) is not None:
            self.alert_server.mounts.append(fixes.webhook.mount)
        if self.webhook is not None:
            await self.webhook.serve(self.alert_server)
        else:
            await self.alert_server.start()
        await self.replica.wait_active()  # standby until the database gives us the lease
        self.replica.keep()
        self.bot.first_hooks.append(alerts.start)
        if (watch := self.bot.services.watch) is not None:
            self.bot.first_hooks.append(watch.start)  # the chain watch ([watch])
        self.bot.startup_hooks.append(self._announce_takeover)
        self.bot.startup_hooks.append(self._settle_heap)
        connected = asyncio.create_task(self.bot.connect(), name="gateway")
        lost = asyncio.create_task(self.replica.lost.wait(), name="lease-lost")
        await asyncio.wait({connected, lost}, return_when=asyncio.FIRST_COMPLETED)
        if lost.done():
            # No Discord call after this: the gateway closes, the timers and workers stop.
            await self.bot.close()
            await asyncio.gather(connected, return_exceptions=True)
            raise LeaseLost(
                f"replica {self.replica.name} lost the lease to {self.replica.holder or 'nobody'}"
            )
        lost.cancel()
        connected.result()

    async def _announce_takeover(self) -> None:
        """``#ops-alerts`` hears which replica acts now, once per lease token."""
        token, previous = self.replica.token(), self.replica.took_over_from
        if token is None or previous is None:
            return
        services = self.bot.services
        ops = services.discord.text_channel(self.settings.config.discord.ops_alerts_channel)
        if ops is None or services.notices is None:
            return
        async with services.sessions.begin() as session:
            entry = await services.notices.add(
                session,
                f"replica-takeover:{token}",
                str(ops.id),
                f"🔁 Replica **{self.replica.name}** took over from **{previous}** "
                f"(lease token {token}): it now runs the timers, the alert worker and the "
                "chain watch, and finishes what was left.",
                title="Replica takeover",
                label="replica",
            )
        await services.notices.deliver(entry.id)

    async def _settle_heap(self) -> None:
        """Once ready: what start-up built lives for the process, so the collector skips it.

        A full collection over discord.py's caches, SQLAlchemy and pydantic costs tens
        of milliseconds, which a webhook would otherwise wait out now and then.
        """
        gc.collect()
        gc.freeze()

    def _gateway_state(self) -> str:
        if not self.replica.single and self.replica.token() is None:
            return "standby"  # another replica acts (SQLite has no other: states as before)
        if self.bot.is_closed():
            return "closed"
        ws = self.bot.ws
        return "connected" if self.bot.is_ready() and ws is not None and ws.open else "connecting"

    async def wait_ready(self, timeout: float = 30) -> None:
        ready = asyncio.create_task(self.bot.ready_once.wait())
        done, _ = await asyncio.wait(
            {ready, self.finished}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
            if self.finished in done:
                self.finished.result()  # raises what stopped the bot
            raise TimeoutError(f"the bot was not ready within {timeout} s")

    async def stop(self) -> None:
        """Stop everything; a step that hangs is logged with its tasks and left behind."""
        if self.alert_server is not None:
            stopping = (
                self.alert_server.stop()
                if self.webhook is None
                else self.webhook.hand_back(self.alert_server)  # 503 until the next runtime
            )
            await _bounded(stopping, "stopping the webhook server")
            self.alert_server = None
        await _bounded(self.bot.close(), "closing the bot")
        if not self.replica.active.is_set() and hasattr(self, "finished"):
            self.finished.cancel()  # a standby's wait for the lease ends here
        await _bounded(self.replica.close(), "letting the replica lease go")
        gc.unfreeze()  # what this bot froze may be collected again once it is gone
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(self.finished, timeout=10)
        # Again once the gateway task is over: a reconnect under way at close starts a
        # heartbeat thread after close() has looked for them.
        await stop_heartbeats(self.bot)


async def run_until(stop: asyncio.Event, settings: Settings) -> BaseException | None:
    """``incident-bot run``: the bot until ``stop`` is set or it fails (the error).

    A replica that stepped down (``LeaseLost``) stays up and starts over as a standby,
    again while the database is still away; its webhook port stays bound all along
    (``WebhookSocket``): a sender's alert is stored, or answered 503 while it starts
    over, never refused.
    """
    from sqlalchemy.exc import DBAPIError

    config = settings.config
    try:
        webhook = WebhookSocket(config.webhook.host, config.webhook.port)
    except WebhookUnavailable as taken:  # the port is taken: said, as any failed start
        return taken
    stepped_down = False
    try:
        while True:
            runtime = BotRuntime(settings, webhook=webhook)
            await runtime.start()
            waiter = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait(
                {waiter, runtime.finished}, return_when=asyncio.FIRST_COMPLETED
            )
            waiter.cancel()
            await runtime.stop()
            error = runtime.finished.exception() if runtime.finished in done else None
            stepped_down = isinstance(error, LeaseLost) or (
                stepped_down and isinstance(error, OSError | DBAPIError)  # the database is away
            )
            if not stepped_down or stop.is_set():
                return error
            log.warning("%s; starting again as a standby", error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), config.replica.renew_every.total_seconds())
            if stop.is_set():
                return None
    finally:
        await webhook.close()


class LeaseLost(Exception):
    """This replica could not renew the lease in time and stopped acting."""


STOP_STEP_TIMEOUT = 20.0


async def _bounded(step: Awaitable[None], what: str) -> None:
    """A shutdown step may not hang the process: past the timeout, say what is still running."""
    try:
        await asyncio.wait_for(step, STOP_STEP_TIMEOUT)
    except TimeoutError:
        stacks = []
        for task in asyncio.all_tasks():
            if task is asyncio.current_task():
                continue
            frames = task.get_stack(limit=8)
            where = " <- ".join(f"{f.f_code.co_name}:{f.f_lineno}" for f in reversed(frames))
            stacks.append(f"{task.get_name()}: {where}")
        log.error(
            "%s took over %.0f s; still running:\n%s", what, STOP_STEP_TIMEOUT, "\n".join(stacks)
        )


def on_signals(stop: asyncio.Event) -> None:
    """SIGINT and SIGTERM set ``stop`` (a clean shutdown) instead of raising."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
