"""Procedure step 3, Mitigate: the playbook of the incident's severity, and for P0 the
on-chain emergency actions (``/mitigate``) with the signer registry (``/signer``)
(bot/mitigate/)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import answer_with
from bot.mitigate.killswitch import confirm_custom_id
from bot.mitigate.playbook import render_playbook
from bot.mitigate.rules import CONFIRM_EMOJI
from bot.triage.lifecycle import Status
from cogs._buttons import RowButton
from cogs._phase import INCIDENT, PhaseCog

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from bot.client import IncidentBot
    from bot.mitigate.fixes import FixService


class ConfirmKillSwitch(RowButton, template=r"mitigate:confirm:(?P<id>\d+)"):
    """The kill switch's Confirm button, for the person who ran it (routed by custom_id)."""

    label = "Confirm"
    style = discord.ButtonStyle.danger

    @staticmethod
    def custom_id_of(row_id: int) -> str:
        return confirm_custom_id(row_id)

    def press(self, bot: IncidentBot, user_id: str) -> Awaitable[Any]:
        return bot.services.mitigate.killswitch.confirm(self.row_id, user_id)

    def answer(self, result: Any) -> dict[str, Any]:  # the confirmed mitigation
        return {
            "content": f"Kill switch #{result.id} confirmed: the command is posted, "
            "and the bot checks the effect on-chain."
        }


class Mitigate(PhaseCog):
    signer = app_commands.Group(
        name="signer", description="Bind your multisig signer address", guild_only=True
    )
    mitigate = app_commands.Group(
        name="mitigate",
        description="Mitigate: P0 on-chain actions, P1 hotfix and deploys, P2/P3 ticket",
        guild_only=True,
    )

    async def cog_load(self) -> None:
        await super().cog_load()
        self.bot.add_dynamic_items(ConfirmKillSwitch)
        if self.services.mitigate.deps is not None:
            # The ✅ made while the bot was down: Discord does not replay them.
            catch_up = self.services.mitigate.reactions.catch_up
            if catch_up not in self.bot.startup_hooks:
                self.bot.startup_hooks.append(catch_up)

    # -- /signer ---------------------------------------------------------------------------
    @signer.command(name="register", description="Get a challenge to sign with your address")
    @app_commands.describe(address="Your signer address (0x…, checksummed or all-lowercase)")
    async def signer_register(self, interaction: discord.Interaction, address: str) -> None:
        work = self.services.mitigate.signers.register(str(interaction.user.id), address)
        await answer_with(
            interaction,
            work,
            lambda c: {
                "content": "Sign this message with that address's key, then run "
                "`/signer verify signature:` (single use, valid until "
                f"<t:{int(c.expires_at.timestamp())}:t>):\n```\n{c.text}\n```\n"
                f"With cast:\n```\n{c.command}\n```"
            },
            ephemeral=True,
        )

    @signer.command(name="verify", description="Bind your address with the signed challenge")
    @app_commands.describe(signature="The signature (0x…) of your challenge")
    async def signer_verify(self, interaction: discord.Interaction, signature: str) -> None:
        work = self.services.mitigate.signers.verify(str(interaction.user.id), signature)
        await answer_with(
            interaction,
            work,
            lambda s: {"content": f"Bound: {s.address} is your signer address."},
            ephemeral=True,
        )

    @signer.command(name="list", description="The bound signers")
    async def signer_list(self, interaction: discord.Interaction) -> None:
        signers = await self.services.mitigate.signers.list()
        lines = [f"- <@{s.member_id}>: {s.address}" for s in signers]
        text = "\n".join(["**Bound signers**", *lines]) if lines else "No signer is bound yet."
        await interaction.response.send_message(
            text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )

    @signer.command(name="remove", description="Unbind a member's signer address")
    @app_commands.describe(member="The member whose address to unbind")
    async def signer_remove(self, interaction: discord.Interaction, member: discord.Member) -> None:
        work = self.services.mitigate.signers.remove(str(interaction.user.id), str(member.id))
        await answer_with(
            interaction,
            work,
            lambda s: {"content": f"Removed: <@{s.member_id}> ({s.address}) is no signer now."},
        )

    # -- /mitigate -------------------------------------------------------------------------
    @mitigate.command(name="pause", description="Propose the emergency pause (P0)")
    async def mitigate_pause(self, interaction: discord.Interaction) -> None:
        work = self.services.mitigate.proposals.propose_pause(
            str(interaction.channel_id), str(interaction.user.id)
        )
        await answer_with(
            interaction,
            work,
            lambda row: {
                "content": f"Proposed (mitigation #{row.id}): bound signers react "
                f"{CONFIRM_EMOJI} on the proposal."
            },
            ephemeral=True,
        )

    @mitigate.command(name="killswitch", description="Revoke a compromised account now (P0)")
    @app_commands.describe(address="The compromised account (0x…)")
    async def mitigate_killswitch(self, interaction: discord.Interaction, address: str) -> None:
        service = self.services.mitigate
        work = service.killswitch.prepare(
            str(interaction.channel_id), str(interaction.user.id), address
        )

        def render(row: Any) -> dict[str, Any]:
            view = discord.ui.View(timeout=None)
            view.add_item(ConfirmKillSwitch(row.id))
            return {
                "content": f"Kill switch for **{row.account}** simulated without a revert. "
                f"<@{interaction.user.id}>, press **Confirm**; then a signer runs:\n"
                f"```\n{service.proposals.command(row)}\n```",
                "view": view,
            }

        await answer_with(interaction, work, render)

    @mitigate.command(name="sign", description="Sign the Safe transaction (Safe owners)")
    @app_commands.describe(signature="Your EIP-712 signature (0x…) of the proposal's typed data")
    async def mitigate_sign(self, interaction: discord.Interaction, signature: str) -> None:
        work = self.services.mitigate.proposals.safe_proposals().sign(
            str(interaction.channel_id), str(interaction.user.id), signature
        )
        await answer_with(
            interaction,
            work,
            lambda done: {
                "content": f"Signature counted: {done[1]} of {done[0].threshold} owners."
            },
        )

    @mitigate.command(name="cancel", description="Cancel this incident's open emergency action")
    async def mitigate_cancel(self, interaction: discord.Interaction) -> None:
        work = self.services.mitigate.endings.cancel(
            str(interaction.channel_id), str(interaction.user.id)
        )
        await answer_with(
            interaction, work, lambda row: {"content": f"Mitigation #{row.id} cancelled."}
        )

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        if str(payload.emoji) != CONFIRM_EMOJI or payload.guild_id is None:
            return
        if self.services.mitigate.deps is None:
            return
        await self.services.mitigate.reactions.on_reaction(
            str(payload.channel_id), str(payload.message_id), str(payload.user_id)
        )

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
    def _fixes(self) -> FixService:
        fixes = self.services.fixes
        assert fixes is not None
        return fixes

    @mitigate.command(name="hotfix", description="Create this incident's hotfix branch (P1)")
    async def hotfix(self, interaction: discord.Interaction) -> None:
        work = self._fixes().hotfix(str(interaction.channel_id), str(interaction.user.id))
        await answer_with(interaction, work, lambda text: {"content": text})

    @mitigate.command(name="deployed", description="Record that the fix is live in production")
    @app_commands.describe(url="Where the fix is live (the production URL)")
    async def deployed(self, interaction: discord.Interaction, url: str) -> None:
        fixes = self._fixes()
        work = fixes.deployed(str(interaction.channel_id), str(interaction.user.id), url)
        await answer_with(interaction, work, lambda text: {"content": text}, ephemeral=True)

    @mitigate.command(name="ticket", description="Open this incident's GitHub ticket (P2/P3)")
    async def ticket(self, interaction: discord.Interaction) -> None:
        work = self._fixes().ticket(str(interaction.channel_id), str(interaction.user.id))
        await answer_with(interaction, work, lambda text: {"content": text})


async def setup(bot: IncidentBot) -> None:
    await bot.add_cog(Mitigate(bot))
