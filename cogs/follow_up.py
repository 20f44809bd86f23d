"""Procedure step 5, Follow-up: the checklist after an incident (the rules: bot/follow_up/)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.follow_up.rules import render_checklist
from cogs._phase import INCIDENT, PhaseCog

if TYPE_CHECKING:
    from bot.client import IncidentBot


class FollowUp(PhaseCog):
    @app_commands.command(
        name="follow-up", description="The procedure's follow-up checklist", extras=INCIDENT
    )
    async def follow_up(self, interaction: discord.Interaction) -> None:
        items = await self.services.follow_up.checklist(str(interaction.channel_id))
        await interaction.response.send_message(render_checklist(items), ephemeral=True)


async def setup(bot: IncidentBot) -> None:
    await bot.add_cog(FollowUp(bot))
