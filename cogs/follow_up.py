"""Procedure step 5, Follow-up: ``/incident follow-up`` (the checklist) and ``/followup
add|done|list`` (action items). Parse, call one function of bot/follow_up/, render."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.client import answer_with
from bot.follow_up.items import Changed, item_line
from bot.follow_up.rules import render_checklist
from cogs._phase import INCIDENT, PhaseCog

if TYPE_CHECKING:
    from bot.client import IncidentBot


def _quiet(content: str) -> dict[str, Any]:
    return {"content": content, "allowed_mentions": discord.AllowedMentions.none()}


class FollowUp(PhaseCog):
    async def cog_load(self) -> None:
        await super().cog_load()
        arm = self.services.follow_up.reminders.arm_digest
        if arm not in self.bot.startup_hooks:
            self.bot.startup_hooks.append(arm)

    followup = app_commands.Group(
        name="followup", description="The incident's action items", guild_only=True
    )

    @app_commands.command(
        name="follow-up", description="The procedure's follow-up checklist", extras=INCIDENT
    )
    async def follow_up(self, interaction: discord.Interaction) -> None:
        items = await self.services.follow_up.checklist(str(interaction.channel_id))
        await interaction.response.send_message(render_checklist(items), ephemeral=True)

    @followup.command(name="add", description="Add an action item to this incident")
    @app_commands.describe(
        action="What will be done",
        owner="Who does it (reminded before the due date)",
        due="A date (2026-03-20), +3d, +2w, tomorrow, friday, next friday",
    )
    async def add(
        self,
        interaction: discord.Interaction,
        action: app_commands.Range[str, 1, 300],
        owner: discord.User,
        due: app_commands.Range[str, 1, 40],
    ) -> None:
        follow_up = self.services.follow_up
        incident = await self.services.incidents.in_channel(str(interaction.channel_id))

        def render(done: Changed) -> dict[str, Any]:
            line = item_line(done.item, follow_up.today())
            return _quiet(f"Added {line}.{done.tracker.note()}")

        await answer_with(
            interaction,
            follow_up.items.add(incident, str(interaction.user.id), str(owner.id), action, due),
            render,
        )

    @followup.command(name="done", description="Mark an action item done")
    @app_commands.describe(id="The item's number (`/followup list` shows it)")
    async def done(self, interaction: discord.Interaction, id: app_commands.Range[int, 1]) -> None:
        follow_up = self.services.follow_up

        def render(done: Changed) -> dict[str, Any]:
            line = item_line(done.item, follow_up.today())
            return _quiet(f"Done: {line}.{done.tracker.note()}")

        await answer_with(interaction, follow_up.items.done(id, str(interaction.user.id)), render)

    @followup.command(name="list", description="This incident's action items (all: every open one)")
    @app_commands.describe(all="Every open incident's open items, not only this incident's")
    async def list_items(self, interaction: discord.Interaction, all: bool = False) -> None:
        follow_up = self.services.follow_up
        incident = None
        if not all:
            incident = await self.services.incidents.in_channel(str(interaction.channel_id))
        await interaction.response.send_message(
            **_quiet(await follow_up.items.listing(incident)), ephemeral=True
        )


async def setup(bot: IncidentBot) -> None:
    await bot.add_cog(FollowUp(bot))
