"""What every phase cog shares: the services, and subcommands of the shared ``/incident``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from discord.ext import commands

if TYPE_CHECKING:
    from bot.client import IncidentBot
    from bot.services import Services

INCIDENT = {"group": "incident"}


class PhaseCog(commands.Cog):
    """A cog whose commands marked ``extras=INCIDENT`` become ``/incident <name>``.

    ``/incident`` belongs to no single phase (triage declares, communicate posts
    updates, mitigate pauses …), so the bot owns the group and each cog hangs its
    subcommands on it when it loads.
    """

    def __init__(self, bot: IncidentBot) -> None:
        self.bot = bot

    @property
    def services(self) -> Services:
        return self.bot.services

    async def cog_load(self) -> None:
        group = self.bot.incident_commands
        mine = [c for c in self.__cog_app_commands__ if c.extras.get("group") == "incident"]
        for command in mine:
            self.__cog_app_commands__.remove(command)
            group.add_command(command)
        self._incident_subcommands = mine

    async def cog_unload(self) -> None:
        for command in getattr(self, "_incident_subcommands", []):
            self.bot.incident_commands.remove_command(command.name)
