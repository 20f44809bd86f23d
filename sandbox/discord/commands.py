"""Application command storage (``PUT /applications/{app}/.../commands``), with Discord's checks."""

from __future__ import annotations

from typing import Any

from . import command_checks, errors
from .state import DiscordState

MAX_CHAT_COMMANDS = 100


def overwrite(
    state: DiscordState, guild_id: int | None, commands: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Replace the scope's commands; a command keeps its id when its name and type stay."""
    if not isinstance(commands, list):
        raise errors.invalid_form_body(
            {
                "_errors": [
                    {
                        "code": "LIST_TYPE_CONVERT",
                        "message": "Only iterables may be used in a ListType",
                    }
                ]
            }
        )
    if sum(1 for c in commands if int(c.get("type") or 1) == 1) > MAX_CHAT_COMMANDS:
        raise errors.DiscordError(
            400, 30032, "Maximum number of application commands reached (100)"
        )
    for index, command in enumerate(commands):
        command_checks.check(index, command)
    previous = {(c["name"], c.get("type", 1)): c for c in state.commands.get(guild_id, [])}
    stored = []
    for command in commands:
        kind = int(command.get("type") or 1)
        old = previous.get((command["name"], kind))
        body = {
            "name_localizations": None,
            "description_localizations": None,
            "default_member_permissions": None,
            "nsfw": False,
            "contexts": None,
            "integration_types": [0],
            "options": [],
            **command,
            "id": old["id"] if old else str(state.ids.next()),
            "application_id": str(state.application_id),
            "type": kind,
            "description": command.get("description") or "",
            "version": str(state.ids.next()),
        }
        if body["integration_types"] is None:
            body["integration_types"] = [0]  # Discord's default (a guild install), never null
        if guild_id is not None:
            body["guild_id"] = str(guild_id)
        stored.append(body)
    state.commands[guild_id] = stored
    return stored


def upsert(state: DiscordState, guild_id: int | None, command: dict[str, Any]) -> dict[str, Any]:
    others = [
        c
        for c in state.commands.get(guild_id, [])
        if (c["name"], c.get("type", 1)) != (command.get("name"), int(command.get("type") or 1))
    ]
    # overwrite() keeps every untouched command's id because its name and type stay
    return overwrite(state, guild_id, [*others, command])[-1]


def delete(state: DiscordState, guild_id: int | None, command_id: str) -> None:
    commands = state.commands.get(guild_id, [])
    if not any(c["id"] == command_id for c in commands):
        raise errors.unknown_command()
    state.commands[guild_id] = [c for c in commands if c["id"] != command_id]


def get(state: DiscordState, guild_id: int | None, command_id: str) -> dict[str, Any]:
    for command in state.commands.get(guild_id, []):
        if command["id"] == command_id:
            return command
    raise errors.unknown_command()
