"""Procedure step 5, Follow-up: the checklist after an incident."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from cogs._phase import INCIDENT, PhaseCog

if TYPE_CHECKING:
    from bot.client import IncidentBot


class FollowUp(PhaseCog):
    @app_commands.command(
        name="follow-up", description="The procedure's follow-up checklist", extras=INCIDENT
    )
    async def follow_up(self, interaction: discord.Interaction) -> None:
        items = self.bot.settings.config.procedure.follow_up
        await interaction.response.send_message(
            "**Follow-up**\n" + "\n".join(f"- [ ] {item}" for item in items), ephemeral=True
        )


async def setup(bot: IncidentBot) -> None:
    await bot.add_cog(FollowUp(bot))
