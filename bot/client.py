"""The bot: a discord.py ``commands.Bot`` that loads one cog per procedure phase."""

from __future__ import annotations

import asyncio
import logging
import secrets as random_tokens
import threading
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands
from discord.gateway import KeepAliveHandler

from bot.adapters.discord_endpoints import use_endpoints
from bot.adapters.git import OpsRepoSync
from bot.core.backoff import Backoff
from bot.core.clock import Clock
from bot.core.outbox import Fence
from bot.core.permissions import record_refusal
from bot.errors import ExternalServiceError, NotAllowed, UserError
from bot.services import Services, build_services
from bot.settings import Settings
from storage.db import upgrade

log = logging.getLogger(__name__)
SYNC_BACKOFF = Backoff(initial=timedelta(seconds=1), cap=timedelta(minutes=1))

PHASES = ("cogs.triage", "cogs.communicate", "cogs.mitigate", "cogs.postmortem", "cogs.follow_up")
T = TypeVar("T")


class IncidentBot(commands.Bot):
    def __init__(
        self,
        settings: Settings,
        extensions: Sequence[str] = PHASES,
        http_trace: aiohttp.TraceConfig | None = None,  # Discord request latency metric
        clock: Clock | None = None,  # the services' clock; tests inject a ManualClock
        fence: Fence | None = None,  # the replica lease's token (bot/replica/)
    ) -> None:
        intents = discord.Intents.default()
        intents.members = True
        intents.message_content = True  # transcripts for postmortems
        # discord.py reads a missing http_trace as none; its types allow a TraceConfig only.
        trace: dict[str, Any] = {"http_trace": http_trace} if http_trace is not None else {}
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            guild_ready_timeout=settings.config.discord.guild_ready_timeout,
            allowed_mentions=discord.AllowedMentions(everyone=False, users=True, roles=False),
            **trace,
        )
        self.settings = settings
        self._clock = clock
        self._fence = fence
        self._extensions = tuple(extensions)
        self.incident_commands = app_commands.Group(
            name="incident", description="Declare and run incidents", guild_only=True
        )
        self._services: Services | None = None
        self._services_closed = False
        self._ops_sync: OpsRepoSync | None = None
        self.ready_once = asyncio.Event()
        self._started = False
        self._rotation_report: asyncio.Task[object] | None = None
        # Run once ready, in order: ``first_hooks`` (what pages people: the alert worker,
        # the chain watch) before ``startup_hooks`` (bookkeeping that may take a Discord
        # call per open incident, like the comms reconcile).
        self.first_hooks: list[Callable[[], Awaitable[None]]] = []
        self.startup_hooks: list[Callable[[], Awaitable[None]]] = []
        self.tree.error(self.on_app_command_error)

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("services are built in setup_hook")
        return self._services

    async def setup_hook(self) -> None:
        await asyncio.to_thread(upgrade, self.settings.database)
        self._services = build_services(self.settings, self, self._clock, self._fence)
        ops = self.settings.config.ops_repo
        self._ops_sync = OpsRepoSync(
            ops.url, self.settings.resolve(ops.checkout), ops.branch, ops.pull_every.total_seconds()
        )
        self.startup_hooks.append(self._ops_sync.start)
        self.tree.add_command(self.incident_commands)
        for extension in self._extensions:
            await self.load_extension(extension)

    async def on_ready(self) -> None:
        if self._started:
            return
        self._started = True
        guild = self.services.discord.guild
        # What keeps people safe starts first: effects the last run left half-sent (a page)
        # are settled by looking for them, then the timers (escalations) start, then the
        # first hooks (the alert worker, the chain watch), the half-opened incidents, and
        # last the startup hooks (comms reconcile and other bookkeeping).
        if self.services.outbox is not None:
            doubtful = await self._best_effort(
                self.services.outbox.recover(), "settling effects the last run left half-sent"
            )
            for entry in doubtful or ():
                log.warning(
                    "outbox entry %s (%s) is in doubt: its timer looks again", entry.id, entry.kind
                )
        await self.services.timers.start()
        # The commands next (one call): the worker's "running" on /healthz must not come
        # before people can use them.
        self.tree.copy_global_to(guild=guild)
        await self._best_effort(self._sync_commands(guild), "syncing slash commands")
        for hook in self.first_hooks:
            await self._best_effort(hook(), f"start-up hook {getattr(hook, '__qualname__', hook)}")
        resumed = await self._best_effort(
            self.services.incidents.resume_opening(), "finishing half-opened incidents"
        )
        if resumed:
            log.info("finished opening %d incident(s) left half-open by the last run", resumed)
        for hook in self.startup_hooks:
            await self._best_effort(hook(), f"start-up hook {getattr(hook, '__qualname__', hook)}")
        # In the background: a slow or failing #ops-alerts must not delay being ready.
        self._rotation_report = asyncio.create_task(
            self._best_effort(self._report_rotation_problems(), "reporting rotation problems")
        )
        log.info("ready in guild %s (%s) as %s", guild.name, guild.id, self.user)
        self.ready_once.set()

    async def _best_effort(self, step: Awaitable[T], what: str) -> T | None:
        """A start-up step whose failure must not stop the others (logged, with its cause)."""
        try:
            return await step
        except Exception:
            log.exception("start-up: %s failed; the bot runs on without it", what)
            return None

    async def _sync_commands(self, guild: discord.Guild) -> None:
        """Sync the command tree, retrying with backoff: Discord may be briefly unhappy."""
        for attempt in range(1, 7):
            try:
                await self.tree.sync(guild=guild)
                return
            except discord.HTTPException as error:
                log.warning("command sync failed (attempt %d): %s", attempt, error)
                await asyncio.sleep(SYNC_BACKOFF.seconds(attempt))
        log.error("command sync gave up: slash commands may be out of date in %s", guild.name)

    async def _report_rotation_problems(self) -> None:
        """A gap or an unknown member is said at start, in #ops-alerts, not found at 3 a.m."""
        problems = self.services.oncall.problems()
        if not problems:
            return
        for problem in problems:
            log.warning("on-call rotation: %s", problem)
        ops = self.services.discord.text_channel(self.settings.config.discord.ops_alerts_channel)
        if ops is not None:
            lines = "\n".join(f"- {p}" for p in problems[:15])
            more = f"\n… and {len(problems) - 15} more" if len(problems) > 15 else ""
            await self.services.discord.send(
                str(ops.id),
                content=f"⚠️ **On-call rotation problems** (fix before they page nobody):\n{lines}{more}"[
                    :2000
                ],
            )

    async def close(self) -> None:
        if self._ops_sync is not None:
            await self._ops_sync.stop()
        # Once: a replica that stepped down (bot/runtime.py) is closed again when it stops.
        if self._services is not None and not self._services_closed:
            self._services_closed = True
            await self._services.close()
        await super().close()
        await stop_heartbeats(self)

    # -- the one error handler -----------------------------------------------------------
    async def on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        cause = getattr(error, "original", error)
        await self.report_error(interaction, cause)

    async def report_error(self, interaction: discord.Interaction, error: BaseException) -> None:
        if isinstance(error, NotAllowed) and self._services is not None:
            await record_refusal(
                self._services.sessions,
                self._services.clock,
                str(interaction.user.id),
                _action(interaction),
                str(error),
                str(interaction.channel_id) if interaction.channel_id else None,
            )
        if isinstance(error, UserError):
            text = str(error)
        elif isinstance(error, app_commands.CheckFailure | app_commands.TransformerError):
            text = str(error)
        elif isinstance(error, ExternalServiceError):
            error_id = random_tokens.token_hex(4)
            log.warning("error %s: %s", error_id, error)
            text = (
                f"{error}. Nothing was left half-done; try again shortly (error id `{error_id}`)."
            )
        else:
            error_id = random_tokens.token_hex(4)
            log.error("error %s in %s", error_id, _describe(interaction), exc_info=error)
            text = (
                f"Something went wrong on the bot's side (error id `{error_id}`, also in its log)."
            )
        await send_ephemeral(interaction, text)


async def stop_heartbeats(client: discord.Client, timeout: float = 5.0) -> None:
    """After ``close()``: stop the client's gateway heartbeat threads and wait for them to end.

    discord.py's heartbeat runs in a thread that schedules each beat on the event loop and
    is only told to stop, never waited for; one a reconnect left behind is not even told.
    Waited for here, while the loop still runs (a beat in flight completes or fails), no
    such thread outlives the loop it schedules on.
    """
    state = getattr(client, "_connection", None)
    if state is None:
        return
    beating = [
        thread
        for thread in threading.enumerate()
        if isinstance(thread, KeepAliveHandler) and getattr(thread.ws, "_connection", None) is state
    ]
    for thread in beating:
        thread.stop()
    for thread in beating:
        await asyncio.to_thread(thread.join, timeout)
        if thread.is_alive():
            log.warning(
                "the gateway heartbeat thread %s did not stop in %s s", thread.name, timeout
            )


def _action(interaction: discord.Interaction) -> str:
    """What a refused interaction tried: ``/incident resolve``, or a button's custom id."""
    if interaction.command is not None:
        return f"/{interaction.command.qualified_name}"
    data: dict[str, Any] = dict(interaction.data or {})
    custom_id = data.get("custom_id")
    return f"button {custom_id}" if custom_id else f"interaction type {interaction.type}"


def _describe(interaction: discord.Interaction) -> str:
    command = interaction.command.qualified_name if interaction.command else interaction.data
    return f"interaction {interaction.id} ({command}) by {interaction.user.id}"


# The first follow-up after a defer fills the deferred message and keeps the defer's
# ephemerality (Discord ignores the follow-up's own flag): a private answer after a
# public defer first fills the public message with this, then follows up privately.
MAX_CONTENT = 2000  # characters of a message's content, Discord's limit
PRIVATE_ANSWER = "The answer is shown only to the person who ran the command."
ALREADY_ACKNOWLEDGED = 40060  # Discord's code for a second first answer


async def send_ephemeral(interaction: discord.Interaction, text: str) -> None:
    if len(text) > MAX_CONTENT:  # a message quoting what was typed; Discord refuses it whole
        text = text[: MAX_CONTENT - 1] + "…"
    try:
        if interaction.response.is_done():
            original = await interaction.original_response()
            if original.flags.loading and not original.flags.ephemeral:
                await interaction.edit_original_response(content=PRIVATE_ANSWER)
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException:
        log.exception("could not tell the user about an error")


async def answer_with(
    interaction: discord.Interaction,
    work: Awaitable[T],
    render: Callable[[T], dict[str, Any]],
    ephemeral: bool = False,
    defer_after: float = 1.0,
) -> T:
    """Run ``work`` and answer with ``render(result)``; defer first if it takes long.

    Discord wants a first answer within 3 s. A quick piece of work is answered
    in one call; a slow one is deferred at ``defer_after`` seconds and answered
    with a follow-up, so the person always sees an answer and never a failure.
    One second: a deferral that meets a 5xx is retried by discord.py a second later,
    still inside the 3 s (at 2 s it was not, and the answer was lost).
    """
    task = asyncio.ensure_future(work)
    try:
        result = await asyncio.wait_for(asyncio.shield(task), timeout=defer_after)
    except TimeoutError:
        await _first_answer(interaction.response.defer(ephemeral=ephemeral, thinking=True))
        result = await task
        answer = {"ephemeral": ephemeral, **render(result)}
        if answer["ephemeral"] and not ephemeral:
            await interaction.edit_original_response(content=PRIVATE_ANSWER)
        await interaction.followup.send(**answer)
        return result
    # ``render`` may ask for its own ``ephemeral`` (an "already done" answer only for you).
    await _first_answer(
        interaction.response.send_message(**{"ephemeral": ephemeral, **render(result)})
    )
    return result


async def _first_answer(call: Awaitable[Any]) -> None:
    """An interaction's first answer. Discord may carry it out and still answer 5xx; the
    retry then hears 40060 "already acknowledged": it took effect, so go on (was: the
    command failed there, and a deferred one was never answered)."""
    try:
        await call
    except discord.HTTPException as error:
        if error.code != ALREADY_ACKNOWLEDGED:
            raise
        log.info("an interaction answer took effect before a 5xx; not sent again")


def configure_discord(settings: Settings) -> None:
    use_endpoints(settings.config.discord.api_base, settings.config.discord.gateway_url)
