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
    from bot.mitigate.fixes import FixService


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

    # -- /mitigate hotfix | deployed | ticket: P1-P3's fix (bot/mitigate/fixes.py) ---------
    fix = app_commands.Group(
        name="mitigate", description="The fix: hotfix branch, deploys, ticket", guild_only=True
    )

    def _fixes(self) -> FixService:
        fixes = self.services.fixes
        assert fixes is not None
        return fixes

    @fix.command(name="hotfix", description="Create this incident's hotfix branch (P1)")
    async def hotfix(self, interaction: discord.Interaction) -> None:
        work = self._fixes().hotfix(str(interaction.channel_id), str(interaction.user.id))
        await answer_with(interaction, work, lambda text: {"content": text})

    @fix.command(name="deployed", description="Record that the fix is live in production")
    @app_commands.describe(url="Where the fix is live (the production URL)")
    async def deployed(self, interaction: discord.Interaction, url: str) -> None:
        fixes = self._fixes()
        work = fixes.deployed(str(interaction.channel_id), str(interaction.user.id), url)
        await answer_with(interaction, work, lambda text: {"content": text}, ephemeral=True)

    @fix.command(name="ticket", description="Open this incident's GitHub ticket (P2/P3)")
    async def ticket(self, interaction: discord.Interaction) -> None:
        work = self._fixes().ticket(str(interaction.channel_id), str(interaction.user.id))
        await answer_with(interaction, work, lambda text: {"content": text})


async def setup(bot: IncidentBot) -> None:
    await bot.add_cog(Mitigate(bot))
