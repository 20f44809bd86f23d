"""Procedure step 3, Mitigate: the playbook of the incident's severity (bot/mitigate/)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.client import answer_with
from bot.mitigate.playbook import render_playbook
from bot.triage.lifecycle import Status
from cogs._phase import INCIDENT, PhaseCog

if TYPE_CHECKING:
    from bot.client import IncidentBot


class Mitigate(PhaseCog):
    @app_commands.command(
        name="playbook",
        description="The mitigation playbook for this incident's severity",
        extras=INCIDENT,
    )
    async def playbook(self, interaction: discord.Interaction) -> None:
        filled = await self.services.mitigate.playbook(str(interaction.channel_id))
        await interaction.response.send_message(render_playbook(filled), ephemeral=True)

    @app_commands.command(
        name="mitigated",
        description="Mark the impact stopped (service still to be fully restored)",
        extras=INCIDENT,
    )
    @app_commands.describe(note="What stopped the impact (optional)")
    async def mitigated(self, interaction: discord.Interaction, note: str | None = None) -> None:
        incidents = self.services.incidents

        async def work() -> None:
            # May wait on the incident's lock: answer_with defers before Discord's deadline.
            incident = await incidents.in_channel(str(interaction.channel_id))
            await incidents.set_status(
                incident.id, str(interaction.user.id), Status.MITIGATED, note
            )

        await answer_with(
            interaction,
            work(),
            lambda _: {
                "content": f"Mitigated, by <@{interaction.user.id}>." + (f" {note}" if note else "")
            },
        )


async def setup(bot: IncidentBot) -> None:
    await bot.add_cog(Mitigate(bot))
