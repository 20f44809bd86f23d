"""The transcript as it happens (messages, edits, deletions) and after a gap (a backfill on
every new gateway session or resume), and the reactions that mark timeline milestones."""

from __future__ import annotations

import asyncio
import logging

import discord
from discord.ext import commands

from bot.postmortem.transcript import TranscriptService
from cogs._phase import PhaseCog

log = logging.getLogger(__name__)


class Transcript(PhaseCog):
    _backfill: asyncio.Task[None] | None = None
    _reconciled = False

    @property
    def _transcript(self) -> TranscriptService:
        return self.services.postmortem.transcript

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        await self._transcript.on_message(message)

    @commands.Cog.listener()
    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        await self._transcript.on_edit(payload)

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        await self._transcript.on_delete([payload.message_id])

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        await self._transcript.on_delete(sorted(payload.message_ids))

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self._reaction(payload, added=True)

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await self._reaction(payload, added=False)

    async def _reaction(self, payload: discord.RawReactionActionEvent, added: bool) -> None:
        if payload.guild_id is None:
            return
        channel = self.bot.get_channel(payload.channel_id)
        await self.services.postmortem.timeline.on_reaction(
            channel,
            payload.channel_id,
            payload.message_id,
            str(payload.emoji),
            str(payload.user_id),
            added,
        )

    # A new session (a start, or after the gateway lost the old one) or a resume: read
    # what the incident channels got meanwhile.
    @commands.Cog.listener()
    async def on_ready(self) -> None:
        if not self._reconciled:
            self._reconciled = True
            try:
                scheduled = await self.services.postmortem.deadline.reconcile()
            except Exception:
                log.exception("postmortem deadlines not reconciled at start")
            else:
                if scheduled:
                    log.info("postmortem deadlines: %d timer(s) scheduled at start", scheduled)
        self._start_backfill()

    @commands.Cog.listener()
    async def on_resumed(self) -> None:
        self._start_backfill()

    @commands.Cog.listener()
    async def on_disconnect(self) -> None:
        self._transcript.gateway_lost()

    def _start_backfill(self) -> None:
        if self._backfill is not None and not self._backfill.done():
            return
        self._backfill = asyncio.create_task(self._run_backfill(), name="transcript-backfill")

    async def _run_backfill(self) -> None:
        try:
            done = await self._transcript.backfill_all()
        except Exception:
            log.exception("transcript backfill failed; live capture goes on")
            return
        log.info(
            "transcripts backfilled: %d incident(s), %d message(s) read",
            done.incidents,
            done.messages,
        )

    async def cog_unload(self) -> None:
        if self._backfill is not None:
            self._backfill.cancel()
            await asyncio.gather(self._backfill, return_exceptions=True)
        await super().cog_unload()
