"""The matrix keeps up with the bot: every application command it registers has a row (or
says why it needs none), every row's rule is a configuration key, and the README's table
is the one tests/matrix/table.py renders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import discord
from discord import app_commands

from tests.matrix.table import ANYONE, BY_ACTION, COMMANDS, ROWS, readme_table

README = Path(__file__).resolve().parents[2] / "README.md"


def registered(bot: Any) -> set[str]:
    """Every command a member can run: the leaves of the tree (slash and context menu)."""
    tree = bot.runtime.bot.tree
    names = set()
    for command in tree.walk_commands():
        if not isinstance(command, app_commands.Group):
            names.add(command.qualified_name)
    for kind in (discord.AppCommandType.message, discord.AppCommandType.user):
        names.update(menu.qualified_name for menu in tree.get_commands(type=kind))
    return names


async def test_every_registered_command_has_a_row_or_a_reason(bot: Any) -> None:
    names = registered(bot)
    assert "incident declare" in names and "Add to timeline" in names, sorted(names)
    missing = sorted(names - set(COMMANDS))
    assert not missing, f"commands with no row in tests/matrix/table.py COMMANDS: {missing}"
    gone = sorted(set(COMMANDS) - names)
    assert not gone, f"COMMANDS names commands the bot no longer has: {gone}"
    for name, row in COMMANDS.items():
        if not row.startswith("no rule"):
            unknown = [a for a in row.split(", ") if a not in BY_ACTION]
            assert not unknown, f"{name}: no row named {unknown}"


async def test_every_row_names_a_rule_of_the_configuration(bot: Any) -> None:
    config = bot.settings.config
    for row in ROWS:
        if row.rule == ANYONE or "." not in row.rule:
            continue
        section, key = row.rule.split(".")
        assert isinstance(getattr(getattr(config, section), key), list), row


def test_the_readme_table_is_the_matrix() -> None:
    text = README.read_text()
    assert readme_table() in text, (
        "README.md's 'Who may do what' table differs from tests/matrix/table.py; "
        "paste readme_table():\n" + readme_table()
    )
