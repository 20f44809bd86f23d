"""Procedure step 1, Triage: declare, classify, open the channel, assign and escalate."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import answer_with
from bot.core.durations import format_duration
from bot.errors import UserError
from bot.triage.service import ACK_EMOJI, Declared, Duplicate, StatusReport
from cogs._buttons import RowButton
from cogs._phase import INCIDENT, PhaseCog

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from bot.client import IncidentBot
    from bot.triage.oncall import Resolved


class AckButton(RowButton, template=r"incident:ack:(?P<id>\d+)"):
    """The kickoff's Acknowledge button; survives restarts (routed by custom_id)."""

    label = "Acknowledge"

    @staticmethod
    def custom_id_of(row_id: int) -> str:
        return f"incident:ack:{row_id}"

    def press(self, bot: IncidentBot, user_id: str) -> Awaitable[tuple[Any, bool]]:
        return bot.services.incidents.acknowledge(self.row_id, user_id, "button")

    def answer(self, result: tuple[Any, bool]) -> dict[str, Any]:  # (incident, now)
        return _ack_answer(result[0].commander_id, result[1])


class DeclareAnywayButton(RowButton, template=r"incident:declare-anyway:(?P<id>\d+)"):
    """ "Declare anyway" under a held-back duplicate: names its draft row, so it survives
    restarts (routed by custom_id)."""

    label = "Declare anyway"
    style = discord.ButtonStyle.danger

    @staticmethod
    def custom_id_of(row_id: int) -> str:
        return f"incident:declare-anyway:{row_id}"

    def press(self, bot: IncidentBot, user_id: str) -> Awaitable[Declared]:
        return bot.services.incidents.declare_anyway(self.row_id, user_id)

    def answer(self, result: Declared) -> dict[str, Any]:
        return _declared_answer(result)


def _duplicate_answer(result: Duplicate) -> dict:
    incident = result.open_incident
    where = f"in <#{incident.channel_id}>" if incident.channel_id else "(its channel is opening)"
    commander = f"commander <@{incident.commander_id}>" if incident.commander_id else "no commander"
    view = discord.ui.View(timeout=None)
    view.add_item(DeclareAnywayButton(result.draft_id))
    return {
        "content": (
            f"**{incident.title}** is already open {where} ({incident.severity} · "
            f"{incident.status} · {commander}). Nothing was created: add what you know "
            "there. If this is a different incident, press **Declare anyway**."
        ),
        "ephemeral": True,
        "view": view,
        "allowed_mentions": discord.AllowedMentions.none(),
    }


def _ack_answer(user_id: str | None, acknowledged_now: bool) -> dict:
    if acknowledged_now:
        return {
            "content": f"{ACK_EMOJI} <@{user_id}> acknowledged and is commanding this incident; escalation stopped."
        }
    return {"content": "Already acknowledged; escalation had stopped.", "ephemeral": True}


def _declared_answer(result: Declared | Duplicate) -> dict:
    if isinstance(result, Duplicate):
        return _duplicate_answer(result)
    incident = result.incident
    verb = "Declared" if result.created else "Already declared"
    commander = (
        f"<@{incident.commander_id}> is commander" if incident.commander_id else "nobody is on call"
    )
    return {
        "content": f"{verb} {incident.severity} **{incident.title}** in <#{incident.channel_id}>; {commander}."
    }


class Triage(PhaseCog):
    oncall = app_commands.Group(name="oncall", description="Who is on call", guild_only=True)

    async def cog_load(self) -> None:
        await super().cog_load()
        self.bot.add_dynamic_items(AckButton, DeclareAnywayButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(AckButton, DeclareAnywayButton)
        await super().cog_unload()

    async def severity_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=label, value=name)
            for label, name in self.services.incidents.severity_choices(current)
        ]

    # -- /incident … ---------------------------------------------------------------------
    @app_commands.command(
        name="declare", description="Declare an incident and open its channel", extras=INCIDENT
    )
    @app_commands.describe(
        title="What is broken, in a few words",
        severity="How bad: start typing to see each level with its definition",
        summary="What you know so far (optional)",
    )
    async def declare(
        self,
        interaction: discord.Interaction,
        title: str,
        severity: str,
        summary: str | None = None,
    ) -> None:
        work = self.services.incidents.declare(
            str(interaction.user.id),
            title,
            severity,
            summary,
            request_key=f"interaction:{interaction.id}",
            hold_duplicates=True,
        )
        await answer_with(interaction, work, _declared_answer)

    declare.autocomplete("severity")(severity_autocomplete)

    # Every command that changes an incident may wait on its lock: answer_with answers at
    # once when the work is quick and defers before Discord's 3-second deadline otherwise.
    @app_commands.command(
        name="ack", description="Acknowledge the incident in this channel", extras=INCIDENT
    )
    async def ack(self, interaction: discord.Interaction) -> None:
        incidents = self.services.incidents

        async def work() -> tuple[str | None, bool]:
            incident = await incidents.in_channel(str(interaction.channel_id))
            incident, now = await incidents.acknowledge(
                incident.id, str(interaction.user.id), "command"
            )
            return incident.commander_id, now

        await answer_with(interaction, work(), lambda result: _ack_answer(*result))

    @app_commands.command(
        name="commander", description="Hand command of this incident to someone", extras=INCIDENT
    )
    @app_commands.describe(member="The new incident commander")
    async def commander(self, interaction: discord.Interaction, member: discord.User) -> None:
        incidents = self.services.incidents

        async def work() -> str | None:
            incident = await incidents.in_channel(str(interaction.channel_id))
            incident = await incidents.hand_over(
                incident.id, str(interaction.user.id), str(member.id)
            )
            return incident.commander_id

        def render(commander_id: str | None) -> dict:
            return {
                "content": f"<@{commander_id}> is now the incident commander (handed over by <@{interaction.user.id}>).",
                "allowed_mentions": discord.AllowedMentions(users=[member]),
            }

        await answer_with(interaction, work(), render)

    @app_commands.command(
        name="severity", description="Change this incident's severity", extras=INCIDENT
    )
    @app_commands.describe(level="The new severity")
    async def severity(self, interaction: discord.Interaction, level: str) -> None:
        incidents = self.services.incidents

        async def work() -> tuple[str, str, str]:
            incident = await incidents.in_channel(str(interaction.channel_id))
            incident, previous = await incidents.change_severity(
                incident.id, str(interaction.user.id), level
            )
            definition = incidents.severity(incident.severity).definition
            return previous, incident.severity, definition

        def render(result: tuple[str, str, str]) -> dict:
            previous, now, definition = result
            return {"content": f"Severity changed from {previous} to **{now}** ({definition})."}

        await answer_with(interaction, work(), render)

    severity.autocomplete("level")(severity_autocomplete)

    @app_commands.command(
        name="status", description="State, commander, age and next deadline", extras=INCIDENT
    )
    async def status(self, interaction: discord.Interaction) -> None:
        incidents = self.services.incidents

        async def work() -> StatusReport:
            incident = await incidents.in_channel(str(interaction.channel_id))
            return await incidents.status(incident)

        def render(report: StatusReport) -> dict:
            text = self.services.renderer.render(
                "status.md.j2",
                incident=report.incident,
                age=report.age,
                time_to_ack=report.time_to_ack,
                next_deadline=report.next_deadline,
            )
            return {"content": text}

        await answer_with(interaction, work(), render, ephemeral=True)

    @app_commands.command(
        name="resolve", description="Mark this incident resolved", extras=INCIDENT
    )
    @app_commands.describe(note="How it was resolved (optional)")
    async def resolve(self, interaction: discord.Interaction, note: str | None = None) -> None:
        incidents = self.services.incidents

        async def work() -> tuple[str, list[str]]:
            incident = await incidents.in_channel(str(interaction.channel_id))
            incident = await incidents.resolve(incident.id, str(interaction.user.id), note)
            assert incident.resolved_at is not None
            after = self.services.follow_up.after_resolving(incident)
            lines = after.lines() if after is not None else []
            return format_duration(incident.resolved_at - incident.declared_at), lines

        def render(result: tuple[str, list[str]]) -> dict:
            duration, next_steps = result
            said = f"Resolved after {duration} by <@{interaction.user.id}>." + (
                f" {note}" if note else ""
            )
            # What comes next: the postmortem where the severity requires one, the follow-up.
            return {"content": "\n".join([said, *next_steps])[:2000]}

        await answer_with(interaction, work(), render)

    @app_commands.command(
        name="reopen", description="Reopen this resolved incident", extras=INCIDENT
    )
    async def reopen(self, interaction: discord.Interaction) -> None:
        incidents = self.services.incidents

        async def work() -> None:
            incident = await incidents.in_channel(str(interaction.channel_id))
            await incidents.reopen(incident.id, str(interaction.user.id))

        await answer_with(
            interaction, work(), lambda _: {"content": f"Reopened by <@{interaction.user.id}>."}
        )

    @app_commands.command(
        name="list", description="Open incidents, most severe first", extras=INCIDENT
    )
    async def list_(self, interaction: discord.Interaction) -> None:
        incidents = await self.services.incidents.list_open()
        if not incidents:
            await interaction.response.send_message("No open incidents.", ephemeral=True)
            return
        now = self.services.incidents.now()
        lines = [
            f"**{i.severity}** <#{i.channel_id}> {i.title} · {i.status} · "
            f"{f'<@{i.commander_id}>' if i.commander_id else 'no commander'} · {format_duration(now - i.declared_at)}"
            for i in incidents
        ]
        await interaction.response.send_message("\n".join(lines)[:2000], ephemeral=True)

    # -- /oncall … -----------------------------------------------------------------------
    @oncall.command(name="now", description="Who is on call now")
    async def oncall_now(self, interaction: discord.Interaction) -> None:
        answer = await self.services.oncall.at()
        await interaction.response.send_message(_oncall_text("On call now", answer), ephemeral=True)

    @oncall.command(name="next", description="Who takes over at the next hand-over")
    async def oncall_next(self, interaction: discord.Interaction) -> None:
        answer = await self.services.oncall.next()
        await interaction.response.send_message(
            _oncall_text("Next on call", answer), ephemeral=True
        )

    @oncall.command(
        name="override", description="Put someone on call for a while (wins over the rotation)"
    )
    @app_commands.describe(
        member="Who takes the shift",
        starts="`now`, `+2h`, or a date-time like `2026-11-28 09:00`",
        ends="`+8h`, or a date-time",
        position="primary (default) or secondary",
    )
    async def oncall_override(
        self,
        interaction: discord.Interaction,
        member: discord.User,
        starts: str,
        ends: str,
        position: Literal["primary", "secondary"] = "primary",
    ) -> None:
        start_at, end_at = await self.services.oncall.override_as(
            str(interaction.user.id), str(member.id), starts, ends, position
        )
        await interaction.response.send_message(
            f"<@{member.id}> is {position} on call from <t:{int(start_at.timestamp())}:f> "
            f"to <t:{int(end_at.timestamp())}:f> (override by <@{interaction.user.id}>)."
        )

    @oncall.command(name="swap", description="Swap primary and secondary until this shift ends")
    async def oncall_swap(self, interaction: discord.Interaction) -> None:
        answer = await self.services.oncall.swap(str(interaction.user.id))
        await interaction.response.send_message(_oncall_text("Swapped; on call now", answer))

    # -- ✅ on a kickoff ------------------------------------------------------------------
    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        if (
            str(payload.emoji) != ACK_EMOJI
            or (self.bot.user is not None and payload.user_id == self.bot.user.id)
            or payload.guild_id is None
        ):
            return
        channel = self.bot.get_channel(payload.channel_id)
        try:
            acknowledged = await self.services.incidents.acknowledge_kickoff_reaction(
                str(payload.channel_id), str(payload.message_id), str(payload.user_id)
            )
        except UserError as error:
            # Removed, and its author told once per message by name, without a ping.
            if self.services.comms is not None:
                await self.services.comms.refuse_reaction(
                    str(payload.channel_id),
                    str(payload.message_id),
                    str(payload.user_id),
                    ACK_EMOJI,
                    str(error),
                )
            return
        if (
            acknowledged is not None
            and acknowledged[1]
            and isinstance(channel, discord.TextChannel)
        ):
            commander = acknowledged[0].commander_id
            await self.services.discord.send(
                str(channel.id),
                content=_ack_answer(commander, True)["content"],
                mention_users=(commander,) if commander else (),
            )


def _oncall_text(heading: str, answer: Resolved) -> str:
    if answer.shift is None and answer.primary_id is None:
        return f"{heading}: nobody (no shift in the rotation covers that time)."
    parts = [f"{heading}: primary {f'<@{answer.primary_id}>' if answer.primary_id else 'nobody'}"]
    parts.append(f"secondary {f'<@{answer.secondary_id}>' if answer.secondary_id else 'nobody'}")
    text = ", ".join(parts)
    if answer.shift is not None:
        text += f" (shift <t:{int(answer.shift.start.timestamp())}:f> to <t:{int(answer.shift.end.timestamp())}:f>)"
    if answer.overridden:
        text += f"; override in force for {', '.join(answer.overridden)}"
    if answer.unresolved:
        text += f". Not members of this server: {', '.join(answer.unresolved)}"
    return text


async def setup(bot: IncidentBot) -> None:
    await bot.add_cog(Triage(bot))
