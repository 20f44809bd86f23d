"""A typed slash command line, read as Discord's client reads it: an option's value runs until
the next ``name:`` of a known option of that command; quoted values keep working."""

from __future__ import annotations

import discord
import pytest
from discord import app_commands

from sandbox.discord import command_line
from sandbox.discord.interactions import ControlError

from .conftest import Control, RecordingBot

STRING, INTEGER, USER = 3, 4, 6
INCIDENT = {
    "name": "incident",
    "options": [
        {
            "type": 1,
            "name": "declare",
            "options": [
                {"type": STRING, "name": "title", "required": True},
                {"type": STRING, "name": "severity", "choices": [{"name": "P2", "value": "P2"}]},
                {"type": STRING, "name": "summary"},
            ],
        },
        {"type": 1, "name": "status", "options": []},
        {
            "type": 2,
            "name": "role",
            "options": [{"type": 1, "name": "assign", "options": [{"type": USER, "name": "who"}]}],
        },
    ],
}
ECHO = {
    "name": "echo",
    "options": [{"type": STRING, "name": "text"}, {"type": INTEGER, "name": "n"}],
}


def read(line: str, command: dict = INCIDENT) -> tuple[str | None, dict[str, str]]:
    name, rest = command_line.split_name(line)
    assert name == command["name"]
    return command_line.parse(command, rest)


@pytest.mark.parametrize(
    ("line", "options"),
    [
        # the line the viewer refused
        (
            "/incident declare title:Deposits slow severity:P2",
            {"title": "Deposits slow", "severity": "P2"},
        ),
        (
            '/incident declare title:"Deposits slow" severity:P2',
            {"title": "Deposits slow", "severity": "P2"},
        ),
        (
            "/incident declare severity:P2 title:Deposits slow",
            {"severity": "P2", "title": "Deposits slow"},
        ),
        # a quoted value may hold a known option's name; an unquoted one ends there
        ('/incident declare title:"fix severity:P1 label"', {"title": "fix severity:P1 label"}),
        # other words with a colon belong to the value
        (
            "/incident declare title:DB: slow summary:see https://status.example.com/x now",
            {"title": "DB: slow", "summary": "see https://status.example.com/x now"},
        ),
        ("/incident declare title:retitle:x", {"title": "retitle:x"}),
        # spaces around values do not count; a quote inside a value is kept
        ("/incident   declare   title:  spaced out   ", {"title": "spaced out"}),
        ('/incident declare title:say "hi" severity:P2', {"title": 'say "hi"', "severity": "P2"}),
        ('/incident declare title:"unclosed severity:P2', {"title": '"unclosed', "severity": "P2"}),
    ],
)
def test_values_run_until_the_next_known_option(line, options):
    assert read(line) == ("declare", options)


def test_subcommand_groups_and_commands_without_options():
    assert read("/incident status") == ("status", {})
    assert read("/incident role assign who:@bob") == ("role assign", {"who": "@bob"})
    assert read("/echo text:a b n:2", ECHO) == (None, {"text": "a b", "n": "2"})
    assert read("/echo", ECHO) == (None, {})


@pytest.mark.parametrize(
    ("line", "refusal"),
    [
        ("/incident", "needs a subcommand (declare, status, role)"),
        ("/incident title:x", "needs a subcommand"),
        ("/incident open title:x", "has no subcommand 'open'"),
        ("/incident declare Deposits slow", "'Deposits slow' is not name:value"),
        ("/incident declare stray title:x", "'stray' is not name:value"),
        ("/incident declare titles:x", "is not name:value"),
        ("/incident declare title:a title:b", "option title is given twice"),
        ("/incident declare title: severity:P2", "option title has no value"),
        ('/incident declare title:""', "option title has no value"),
        ("/incident status now", "/incident status takes no options"),
    ],
)
def test_what_cannot_be_read_is_refused_saying_why(line, refusal):
    with pytest.raises(ControlError, match=refusal.replace("(", r"\(").replace(")", r"\)")) as e:
        read(line)
    assert e.value.status == 400


@pytest.mark.parametrize("line", ["incident declare", "/", "/ incident", "  "])
def test_a_line_names_its_command_after_a_slash(line):
    with pytest.raises(ControlError, match="starts with /name"):
        command_line.split_name(line)


async def _declare_command(bot: RecordingBot, guild: discord.Object, seen: dict) -> None:
    group = app_commands.Group(name="incident", description="Incidents", guild_ids=[guild.id])

    @group.command(description="Declare")
    @app_commands.choices(
        severity=[app_commands.Choice(name=p, value=p) for p in ("P1", "P2", "P3", "P4")]
    )
    async def declare(
        interaction: discord.Interaction,
        title: str,
        severity: app_commands.Choice[str],
        summary: str | None = None,
    ) -> None:
        seen.update(title=title, severity=severity.value, summary=summary)
        await interaction.response.send_message(f"declared {title}")

    bot.tree.add_command(group)
    await bot.tree.sync(guild=guild)


async def test_the_control_api_runs_a_typed_line(bot, guild, control: Control):
    seen: dict = {}
    await _declare_command(bot, guild, seen)
    status, answer = await control.post(
        "/_sandbox/commands",
        {
            "user_id": "alice",
            "channel_id": "ops-alerts",
            "command_line": "/incident declare title:Deposits slow severity:P2",
        },
    )
    assert status == 200, answer
    assert seen == {"title": "Deposits slow", "severity": "P2", "summary": None}
    assert answer["command"] == {
        "name": "incident",
        "subcommand": "declare",
        "options": {"title": "Deposits slow", "severity": "P2"},
    }
    assert answer["responses"][0]["content"] == "declared Deposits slow"
    status, answer = await control.post(
        "/_sandbox/commands",
        {
            "user_id": "alice",
            "channel_id": "ops-alerts",
            "command_line": '/incident declare title:"Withdrawals failing" severity:P1 '
            "summary:since 10:02, see #ops-alerts",
        },
    )
    assert status == 200, answer
    assert seen == {
        "title": "Withdrawals failing",
        "severity": "P1",
        "summary": "since 10:02, see #ops-alerts",
    }


async def test_a_typed_line_is_refused_with_the_reason(bot, guild, control: Control):
    await _declare_command(bot, guild, {})
    base = {"user_id": "alice", "channel_id": "ops-alerts"}
    status, answer = await control.post(
        "/_sandbox/commands", {**base, "command_line": "/incident declare severity:P2"}
    )
    assert (status, answer["error"]) == (400, "declare: missing required option(s) title")
    status, answer = await control.post("/_sandbox/commands", {**base, "command_line": "/nope x:1"})
    assert status == 400 and "no synced slash command named 'nope'" in answer["error"]
    status, answer = await control.post(
        "/_sandbox/commands",
        {**base, "command_line": "/incident declare title:x", "name": "incident"},
    )
    assert (status, answer["error"]) == (
        400,
        "give command_line or name/subcommand/options, not both",
    )
