"""Application command registration checked as Discord checks it, refused with 50035 and
its ``errors`` tree (``{"0": {"options": {"1": {"name": {"_errors": [...]}}}}}``).

Names 1–32 lowercase word characters; descriptions 1–100; at most 25 options per level
and 25 choices per option (names 1–100, string values up to 100); option names unique
per level; required options before optional ones; sub-command groups hold only
sub-commands, sub-commands hold no sub-commands or groups, and sub-commands or groups
never sit beside other option types.
"""

from __future__ import annotations

import re
from typing import Any

from . import errors

NAME = re.compile(r"^[-_'\w]{1,32}$", re.UNICODE)
MAX_OPTIONS = 25
MAX_CHOICES = 25
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
OPTION_TYPES = set(range(1, 12))
CHOICE_TYPES = {3, 4, 10}


class Refused(Exception):
    def __init__(self, path: list[str], leaf: dict[str, Any]) -> None:
        self.path, self.leaf = path, leaf


def _name(path: list[str], value: Any) -> None:
    name = str(value or "")
    if not NAME.match(name) or name != name.lower():
        raise Refused(
            [*path, "name"],
            errors.field_error("APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"),
        )


def between(path: list[str], value: Any, low: int, high: int) -> None:
    """Refused unless ``value``'s length is within [low, high]."""
    if not low <= len(str(value or "")) <= high:
        raise Refused(
            path,
            errors.field_error(
                "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length."
            ),
        )


def _count(path: list[str], items: list[Any], limit: int) -> None:
    if len(items) > limit:
        raise Refused(path, errors.max_length(limit))


def _options(path: list[str], options: Any, depth: int) -> None:
    """``depth``: 0 under the command, 1 under a group or a top-level sub-command, 2 under
    a group's sub-command."""
    if options in (None, []):
        return
    if not isinstance(options, list):
        raise Refused(path, errors.field_error("LIST_TYPE_CONVERT", "Must be a list"))
    _count(path, options, MAX_OPTIONS)
    kinds = [int(o.get("type") or 0) for o in options]
    nested = {SUB_COMMAND, SUB_COMMAND_GROUP}
    if any(k in nested for k in kinds) and any(k not in nested for k in kinds):
        raise Refused(
            path,
            errors.field_error(
                "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                "Sub-command and sub-command group option types are mutually exclusive "
                "to all other types",
            ),
        )
    seen: set[str] = set()
    optional_seen = False
    for index, (option, kind) in enumerate(zip(options, kinds, strict=True)):
        here = [*path, str(index)]
        if kind not in OPTION_TYPES:
            raise Refused(
                [*here, "type"],
                errors.field_error("BASE_TYPE_CHOICES", f"Value must be one of {OPTION_TYPES}."),
            )
        _name(here, option.get("name"))
        between([*here, "description"], option.get("description"), 1, 100)
        if option["name"] in seen:
            raise Refused(
                [*here, "name"],
                errors.field_error(
                    "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                    "Application command option names must be unique",
                ),
            )
        seen.add(option["name"])
        if kind in nested:
            if (kind == SUB_COMMAND_GROUP and depth > 0) or (kind == SUB_COMMAND and depth > 1):
                raise Refused(
                    [*here, "type"],
                    errors.field_error(
                        "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                        "Sub-command groups and sub-commands cannot be nested this deep",
                    ),
                )
            inner = option.get("options") or []
            if kind == SUB_COMMAND_GROUP and any(
                int(o.get("type") or 0) != SUB_COMMAND for o in inner
            ):
                raise Refused(
                    [*here, "options"],
                    errors.field_error(
                        "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                        "A sub-command group may only contain sub-commands",
                    ),
                )
            _options([*here, "options"], inner, depth + 1)
            continue
        if option.get("required"):
            if optional_seen:
                raise Refused(
                    [*here, "required"],
                    errors.field_error(
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    ),
                )
        else:
            optional_seen = True
        _choices([*here, "choices"], option.get("choices"), kind)


def _choices(path: list[str], choices: Any, kind: int) -> None:
    if not choices:
        return
    if kind not in CHOICE_TYPES:
        raise Refused(
            path,
            errors.field_error(
                "APPLICATION_COMMAND_OPTION_CHOICES_INVALID",
                "Choices are only allowed for string, integer and number options",
            ),
        )
    _count(path, choices, MAX_CHOICES)
    for index, choice in enumerate(choices):
        between([*path, str(index), "name"], choice.get("name"), 1, 100)
        if kind == 3:
            between([*path, str(index), "value"], choice.get("value"), 1, 100)


def check(index: int, command: dict[str, Any]) -> None:
    """Raise 50035 with Discord's error tree if the ``index``-th command breaks a rule."""
    kind = int(command.get("type") or 1)
    try:
        if kind == 1:
            _name([str(index)], command.get("name"))
            between([str(index), "description"], command.get("description"), 1, 100)
            _options([str(index), "options"], command.get("options"), 0)
        else:
            between([str(index), "name"], command.get("name"), 1, 32)
    except Refused as refused:
        raise errors.invalid_form_body(errors.nest(refused.path, refused.leaf)) from None
