"""Slash commands, components and modals run through the control API reach the bot."""

from __future__ import annotations

import asyncio

import discord
from discord import app_commands

from .conftest import Control, RecordingBot


async def _sync(bot: RecordingBot, guild: discord.Object) -> None:
    await bot.tree.sync(guild=guild)


async def test_command_sync_stores_the_guild_commands(bot, guild, control: Control, world):
    @bot.tree.command(guild=guild, description="Say hello")
    async def hello(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("hi")

    synced = await bot.tree.sync(guild=guild)
    assert [c.name for c in synced] == ["hello"]
    path = f"/applications/{world.application_id}/guilds/{world.guild_id}/commands"
    status, stored = await control.rest("GET", path)
    assert status == 200 and [c["name"] for c in stored] == ["hello"]


async def test_slash_command_answered_directly_is_reported(bot, guild, control: Control):
    @bot.tree.command(guild=guild, description="Echo")
    async def echo(interaction: discord.Interaction, text: str, times: int = 1) -> None:
        await interaction.response.send_message(" ".join([text] * times))

    await _sync(bot, guild)
    status, answer = await control.post(
        "/_sandbox/commands",
        {
            "user_id": control.user_id("alice"),
            "channel_id": control.channel_id("general"),
            "name": "echo",
            "options": {"text": "hey", "times": "2"},
        },
    )
    assert status == 200
    assert answer["interaction_id"].isdigit()
    [response] = answer["responses"]
    assert (response["type"], response["content"], response["ephemeral"]) == (4, "hey hey", False)
    messages = await control.get(f"/_sandbox/channels/{control.channel_id('general')}/messages")
    assert messages[-1]["content"] == "hey hey"


async def test_deferred_command_reports_the_defer_then_the_follow_up(bot, guild, control: Control):
    @bot.tree.command(guild=guild, description="Slow")
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await asyncio.sleep(0.1)
        await interaction.followup.send("done", embed=discord.Embed(title="Result"))

    await _sync(bot, guild)
    _, answer = await control.post(
        "/_sandbox/commands",
        {"user_id": "bob", "channel_id": control.channel_id("general"), "name": "slow"},
    )
    defer, follow_up = answer["responses"]
    assert defer["type"] == 5 and defer["ephemeral"] is True
    assert follow_up["type"] == 4 and follow_up["source"] == "followup"
    assert follow_up["content"] == "done" and follow_up["embeds"][0]["title"] == "Result"


async def test_deferred_command_answered_by_editing_the_original(bot, guild, control: Control):
    @bot.tree.command(guild=guild, description="Edit")
    async def edit(interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        await interaction.edit_original_response(content="edited answer")

    await _sync(bot, guild)
    _, answer = await control.post(
        "/_sandbox/commands",
        {"user_id": "bob", "channel_id": control.channel_id("general"), "name": "edit"},
    )
    assert [(r["type"], r["source"]) for r in answer["responses"]] == [
        (5, "callback"),
        (4, "edit_original"),
    ]
    assert answer["responses"][1]["content"] == "edited answer"


async def test_subcommand_options_arrive_typed_and_resolved(bot, guild, control: Control):
    seen: dict[str, object] = {}
    group = app_commands.Group(name="incident", description="Incidents", guild_ids=[guild.id])

    @group.command(description="Assign")
    async def assign(
        interaction: discord.Interaction,
        who: discord.Member,
        where: discord.TextChannel,
        role: discord.Role,
        severity: int,
        urgent: bool,
    ) -> None:
        seen.update(who=who, where=where, role=role, severity=severity, urgent=urgent)
        await interaction.response.send_message("ok", ephemeral=True)

    bot.tree.add_command(group)
    await _sync(bot, guild)
    _, answer = await control.post(
        "/_sandbox/commands",
        {
            "user_id": "alice",
            "channel_id": "ops-alerts",
            "name": "incident",
            "subcommand": "assign",
            "options": {
                "who": control.user_id("carol"),
                "where": control.channel_id("general"),
                "role": "oncall",
                "severity": 1,
                "urgent": "true",
            },
        },
    )
    assert answer["responses"][0]["ephemeral"] is True
    assert isinstance(seen["who"], discord.Member) and seen["who"].name == "carol"
    assert seen["where"].name == "general"
    assert seen["role"].name == "oncall"
    assert (seen["severity"], seen["urgent"]) == (1, True)


async def test_button_press_reaches_the_view(bot, guild, control: Control):
    pressed = asyncio.Event()

    class Confirm(discord.ui.View):
        @discord.ui.button(label="Confirm", custom_id="confirm")
        async def confirm(
            self, interaction: discord.Interaction, button: discord.ui.Button
        ) -> None:
            pressed.set()
            await interaction.response.edit_message(content="confirmed", view=None)

    channel = bot.get_channel(int(control.channel_id("general")))
    message = await channel.send("Confirm?", view=Confirm(timeout=None))
    _, answer = await control.post(
        "/_sandbox/components",
        {
            "user_id": "bob",
            "channel_id": str(channel.id),
            "message_id": str(message.id),
            "custom_id": "confirm",
        },
    )
    assert pressed.is_set()
    assert answer["responses"][0]["type"] == 7
    stored = await control.get(f"/_sandbox/channels/{channel.id}/messages")
    assert stored[-1]["content"] == "confirmed" and stored[-1]["components"] == []


async def test_modal_submit_reaches_the_modal(bot, guild, control: Control):
    submitted: dict[str, str] = {}

    class Report(discord.ui.Modal, title="Status update"):
        summary = discord.ui.TextInput(label="Summary", custom_id="summary")

        async def on_submit(self, interaction: discord.Interaction) -> None:
            submitted["summary"] = self.summary.value
            await interaction.response.send_message("thanks")

    @bot.tree.command(guild=guild, description="Report")
    async def report(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(Report(custom_id="report-modal"))

    await _sync(bot, guild)
    general = control.channel_id("general")
    _, opened = await control.post(
        "/_sandbox/commands", {"user_id": "erin", "channel_id": general, "name": "report"}
    )
    assert opened["responses"][0]["type"] == 9
    assert opened["responses"][0]["custom_id"] == "report-modal"
    _, answer = await control.post(
        "/_sandbox/modals",
        {
            "user_id": "erin",
            "channel_id": general,
            "custom_id": "report-modal",
            "fields": {"summary": "DB recovered"},
        },
    )
    assert submitted == {"summary": "DB recovered"}
    assert answer["responses"][0]["content"] == "thanks"


async def test_a_callback_after_three_seconds_is_unknown_interaction(world, control: Control):
    await _sync_raw(world, control)
    interaction = await _unanswered_interaction(world, control)
    interaction.created -= 3.1  # as if three seconds had passed
    status, body = await control.request(
        "POST",
        f"/api/v10/interactions/{interaction.id}/{interaction.token}/callback",
        json={"type": 4, "data": {"content": "too late"}},
    )
    assert (status, body["code"]) == (404, 10062)


async def test_a_second_acknowledgement_is_refused_40060(world, control: Control):
    await _sync_raw(world, control)
    interaction = await _unanswered_interaction(world, control)
    url = f"/api/v10/interactions/{interaction.id}/{interaction.token}/callback?with_response=1"
    status, first = await control.request("POST", url, json={"type": 5})
    assert status == 200 and first["interaction"]["response_message_loading"] is True
    status, body = await control.request("POST", url, json={"type": 4, "data": {"content": "x"}})
    assert (status, body["code"]) == (400, 40060)


async def _sync_raw(world, control: Control) -> None:
    path = f"/applications/{world.application_id}/guilds/{world.guild_id}/commands"
    status, _ = await control.rest("PUT", path, json=[{"name": "ping", "description": "Ping"}])
    assert status == 200


async def _unanswered_interaction(world, control: Control):
    _, answer = await control.post(
        "/_sandbox/commands",
        {"user_id": "alice", "channel_id": "general", "name": "ping", "timeout": 0.05},
    )
    assert answer["responses"] == [] and answer["timed_out"] is True
    return world.discord.interactions.by_id[int(answer["interaction_id"])]


async def test_a_button_on_an_ephemeral_reply_can_be_pressed(bot, guild, control: Control):
    class Ack(discord.ui.View):
        @discord.ui.button(label="Acknowledge", custom_id="ack")
        async def ack(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
            await interaction.response.send_message("acknowledged", ephemeral=True)

    @bot.tree.command(guild=guild, description="Page")
    async def page(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("You are paged", view=Ack(), ephemeral=True)

    await _sync(bot, guild)
    general = control.channel_id("general")
    _, paged = await control.post(
        "/_sandbox/commands", {"user_id": "carol", "channel_id": general, "name": "page"}
    )
    reply = paged["responses"][0]
    assert reply["ephemeral"] is True and reply["components"]
    assert await control.get(f"/_sandbox/channels/{general}/messages") == []
    _, pressed = await control.post(
        "/_sandbox/components",
        {
            "user_id": "carol",
            "channel_id": general,
            "message_id": reply["message_id"],
            "custom_id": "ack",
        },
    )
    assert pressed["responses"][0]["content"] == "acknowledged"
