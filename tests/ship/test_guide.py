"""docs/operators-guide.md covers what the bot has: every slash command, CLI command, setting and secret.

The commands are read from the bot itself (the cogs loaded as at start), so a command a
new cog registers fails here until the guide has a section for it, with an example.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import discord
import pytest
from discord import app_commands
from pydantic import BaseModel

from bot.cli import _parser
from bot.client import IncidentBot
from bot.settings import Config, Secrets, Settings, parse_config

ROOT = Path(__file__).resolve().parents[2]
GUIDE = (ROOT / "docs" / "operators-guide.md").read_text(encoding="utf-8")
# Documented as a whole: the procedure document's own tables, overridable key by key.
WHOLE = {"procedure"}


def sections(prefix: str) -> dict[str, str]:
    """``### <prefix>…`` headings of the guide, each with its text up to the next heading."""
    found: dict[str, str] = {}
    parts = re.split(r"^### ", GUIDE, flags=re.M)[1:]
    for part in parts:
        heading, _, body = part.partition("\n")
        if heading.startswith(prefix):
            found[heading.strip()] = re.split(r"^##? ", body, flags=re.M)[0]
    return found


async def registered_commands(tmp_path: Path) -> dict[str, list[str]]:
    """Every application command the bot registers, by qualified name, with its options."""
    config = parse_config(
        {
            "storage": {"database": str(tmp_path / "db.sqlite3")},
            "ops_repo": {"checkout": str(tmp_path / "ops")},
        }
    )
    bot = IncidentBot(Settings(config=config, secrets=Secrets(), config_path=None))
    try:
        await bot.setup_hook()
        commands: dict[str, list[str]] = {}
        for command in bot.tree.walk_commands():
            if isinstance(command, app_commands.Command):
                commands[command.qualified_name] = [p.name for p in command.parameters]
        for kind in (discord.AppCommandType.user, discord.AppCommandType.message):
            for menu in bot.tree.get_commands(type=kind):
                commands[menu.name] = []
        return commands
    finally:
        await bot.close()


async def test_the_guide_has_a_section_with_an_example_for_every_slash_command(
    tmp_path: Path,
) -> None:
    commands = await registered_commands(tmp_path)
    assert "incident declare" in commands  # the bot's commands were really read
    documented = sections("/")
    missing = sorted(f"/{name}" for name in commands if f"/{name}" not in documented)
    assert not missing, f"docs/operators-guide.md has no '### ' section for {missing}"
    unknown = sorted(set(documented) - {f"/{name}" for name in commands})
    assert not unknown, f"the guide documents commands the bot does not have: {unknown}"
    for name, options in commands.items():
        body = documented[f"/{name}"]
        examples = re.findall(r"^```\n(/.*)\n```", body, flags=re.M)
        assert any(e == f"/{name}" or e.startswith(f"/{name} ") for e in examples), (
            f"/{name}: no example in a code block"
        )
        for option in options:
            assert f"`{option}`" in body or f"{option}:" in " ".join(examples), (
                f"/{name}: option {option} not described"
            )


def cli_commands() -> list[str]:
    def walk(parser: argparse.ArgumentParser, prefix: str) -> list[str]:
        found = []
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found += walk(sub, f"{prefix} {name}") or [f"{prefix} {name}"]
        return found

    return walk(_parser(), "incident-bot")


def test_the_guide_has_a_section_with_an_example_for_every_cli_command() -> None:
    commands = cli_commands()
    assert "incident-bot db backup" in commands and "incident-bot run" in commands
    documented = sections("incident-bot ")
    assert sorted(documented) == sorted(commands)
    for name in commands:
        assert re.search(rf"^```sh\n{re.escape(name)}\b", documented[name], flags=re.M), name


def setting_keys() -> list[str]:
    keys = []
    for name, field in Config.model_fields.items():
        section = field.annotation
        if isinstance(section, type) and issubclass(section, BaseModel) and name not in WHOLE:
            keys += [
                f"{name}.{key}" for key in section.model_fields if f"{name}.{key}" not in WHOLE
            ]
            keys += [f"{name}.{key}" for key in section.model_fields if f"{name}.{key}" in WHOLE]
        else:
            keys.append(name)
    return keys


@pytest.mark.parametrize("key", setting_keys())
def test_the_guide_explains_every_setting(key: str) -> None:
    assert re.search(rf"^\| `{re.escape(key)}` \|", GUIDE, flags=re.M), key


@pytest.mark.parametrize("name", sorted(Secrets.model_fields))
def test_the_guide_explains_every_secret(name: str) -> None:
    assert f"`INCIDENT_BOT_{name.upper()}`" in GUIDE


def test_the_permissions_integer_is_the_sum_of_the_permissions_listed() -> None:
    table = re.search(
        r"^\| permission \| bit \| what for \|\n\|[-| ]+\|\n((?:\|.*\n)+)", GUIDE, re.M
    )
    assert table is not None
    bits = [int(b) for b in re.findall(r"\| `1 << (\d+)` \|", table.group(1))]
    names = re.findall(r"^\| ([A-Z][\w ]+) \| `1 << ", table.group(1), re.M)
    expected = sum(1 << bit for bit in bits)
    for name, bit in zip(names, bits, strict=True):  # each name is Discord's for that bit
        flag = name.lower().replace(" ", "_").replace("view_channels", "view_channel")
        assert getattr(discord.Permissions, flag).flag == 1 << bit, name
    assert f"Permissions integer: **{expected}**" in GUIDE
    assert f"scope=bot+applications.commands&permissions={expected}" in GUIDE


def test_the_readme_links_the_guide() -> None:
    assert "(docs/operators-guide.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
