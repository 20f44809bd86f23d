"""Procedure step 4, Postmortem: required for some severities within a deadline
(the rules: bot/postmortem/)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.postmortem.service import render_status
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
        status = await self.services.postmortem.status(str(interaction.channel_id))
        await interaction.response.send_message(render_status(status), ephemeral=True)


async def setup(bot: IncidentBot) -> None:
    await bot.add_cog(Postmortem(bot))
