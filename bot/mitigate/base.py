"""What the P0 mitigation pieces share: their dependencies and the timer and outbox kinds.

The incident's lock is taken only to change rows (lock, change, commit, unlock); every
call to the chain or to Discord happens outside it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.chain import ChainClient
from bot.adapters.discord_out import ButtonSpec, DiscordOut
from bot.adapters.notices import ChannelNotices
from bot.core.clock import Clock
from bot.core.locks import IncidentLocks
from bot.core.outbox import Outbox
from bot.core.timers import TimerService
from bot.errors import UserError
from bot.mitigate.signers import SignerRegistry
from bot.settings import Config
from bot.triage.lifecycle import record
from bot.triage.service import IncidentService
from storage.models import Incident, TimelineEvent

# Timer kinds (durable deadlines).
WATCH = "mitigate_watch"
REMIND = "mitigate_remind"
EXPIRE = "mitigate_expire"
EXECUTE = "mitigate_execute"  # the optional executor's submission (bot/mitigate/executor.py)
TIMER_KINDS = (WATCH, REMIND, EXPIRE)

RED, GREEN, AMBER, BLUE = 0xED4245, 0x57F287, 0xE67E22, 0x5865F2
OPS = "ops-alerts"  # a post's channel: #ops-alerts instead of the incident channel


class NoChain(UserError):
    pass


@dataclass
class MitigateDeps:
    config: Config
    sessions: async_sessionmaker[AsyncSession]
    discord: DiscordOut
    incidents: IncidentService
    timers: TimerService
    clock: Clock
    locks: IncidentLocks
    outbox: Outbox
    notices: ChannelNotices
    signers: SignerRegistry
    chain: ChainClient | None
    # [mitigate.addresses] and the environment's values of the actions' target names.
    names: dict[str, str] = field(default_factory=dict)
    executor_key: SecretStr | None = None  # the optional executor; never logged or stored

    @asynccontextmanager
    async def changing(self, incident_id: int) -> AsyncIterator[AsyncSession]:
        async with self.locks.hold(incident_id), self.sessions.begin() as session:
            yield session

    def record(
        self,
        session: AsyncSession,
        incident: Incident,
        kind: str,
        text: str,
        actor_id: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> TimelineEvent:
        return record(session, incident, kind, text, actor_id, data, None, self.clock.now())

    async def post(
        self,
        session: AsyncSession,
        key: str,
        incident_id: int,
        channel_id: str,
        title: str,
        description: str,
        footer: str,
        content: str | None = None,
        colour: int = BLUE,
        mention_users: tuple[str, ...] = (),
        buttons: tuple[ButtonSpec, ...] = (),
        message_of: int | None = None,
    ) -> None:
        """Post once (bot/adapters/notices.py), by a timer after ``session`` commits, in
        the order queued; ``channel_id`` OPS: #ops-alerts. ``message_of``: the mitigation
        whose message this is (its id is stored once posted)."""
        await self.notices.add(
            session,
            key,
            f"#{self.config.discord.ops_alerts_channel}" if channel_id == OPS else channel_id,
            content,
            title=title,
            description=description,
            colour=colour,
            label=footer,
            mention_users=mention_users,
            buttons=buttons,
            incident_id=incident_id,
            data={"message_of": message_of} if message_of is not None else None,
            by_timer=True,
        )

    def need_chain(self) -> ChainClient:
        if self.chain is None:
            raise NoChain(
                "No chain is configured ([mitigate.chain] rpc_url), so the bot cannot build, "
                "simulate or watch an emergency action. Follow the playbook by hand."
            )
        return self.chain

    def ops_alerts_id(self) -> str | None:
        channel = self.discord.text_channel(self.config.discord.ops_alerts_channel)
        return str(channel.id) if channel else None
