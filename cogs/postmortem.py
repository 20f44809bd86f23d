"""Procedure step 4, Postmortem: required for some severities within a deadline."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.core.durations import format_duration
from cogs._phase import INCIDENT, PhaseCog

if TYPE_CHECKING:
    from bot.client import IncidentBot


class Postmortem(PhaseCog):
    @app_commands.command(
        name="postmortem",
        description="Is a postmortem required for this incident, and by when",
        extras=INCIDENT,
    )
    async def postmortem(self, interaction: discord.Interaction) -> None:
        incident = await self.services.incidents.in_channel(str(interaction.channel_id))
        procedure = self.bot.settings.config.procedure
        level = procedure.severity(incident.severity)
        if not level.postmortem_required:
            text = f"No postmortem is required for {level.name}."
        else:
            within = procedure.postmortem.due_within
            day = self.services.incidents.local_date(incident)
            path = procedure.postmortem.path_for(day, incident.slug)
            text = f"A postmortem is required for {level.name} within {format_duration(within)}, at `{path}`."
        await interaction.response.send_message(text, ephemeral=True)


async def setup(bot: IncidentBot) -> None:
    await bot.add_cog(Postmortem(bot))
