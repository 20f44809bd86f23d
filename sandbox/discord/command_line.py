"""A slash command typed as one line, read the way Discord's own client reads it.

    /incident declare title:Deposits slow severity:P2
    /incident declare title:"Deposits slow" severity:P2

The first word names the command, the next words its (group and) subcommand. Then each
option is ``name:value``, where ``name`` is an option *of that (sub)command*, and its value
runs until the next ``name:`` of one of those options (after a space) or the end of the
line. A value in double quotes is taken without them and may hold anything but a double
quote, even ``severity:``. Any other ``word:`` (``DB: slow``, ``https://…``) is part of
the value it sits in.
"""

from __future__ import annotations

import re
from typing import Any

from .interaction_model import ControlError

NESTED = (1, 2)  # SUB_COMMAND, SUB_COMMAND_GROUP


def split_name(line: str) -> tuple[str, str]:
    """``"/incident declare …"`` → ``("incident", "declare …")``."""
    text = line.strip()
    if not text.startswith("/") or len(text) == 1 or text[1].isspace():
        raise ControlError(400, f"a command line starts with /name, not {line!r}")
    name, _, rest = text[1:].partition(" ")
    return name, rest


def parse(command: dict[str, Any], rest: str) -> tuple[str | None, dict[str, str]]:
    """The subcommand path (``"declare"``, ``"group sub"`` or None) and ``{option: value}``."""
    where = "/" + command["name"]
    declared: list[dict[str, Any]] = command.get("options") or []
    path: list[str] = []
    while nested := [o for o in declared if o.get("type") in NESTED]:
        match = re.match(r"\s*(\S+)", rest)
        word = match.group(1) if match else None
        chosen = next((o for o in nested if o["name"] == word), None)
        names = ", ".join(o["name"] for o in nested)
        if match is None or chosen is None:
            if word is None or ":" in word:
                raise ControlError(400, f"{where} needs a subcommand ({names})")
            raise ControlError(400, f"{where} has no subcommand {word!r} ({names})")
        path.append(chosen["name"])
        where += " " + chosen["name"]
        rest = rest[match.end() :]
        declared = chosen.get("options") or []
    return (" ".join(path) or None), _options(where, declared, rest)


def _options(where: str, declared: list[dict[str, Any]], text: str) -> dict[str, str]:
    names = sorted((str(o["name"]) for o in declared), key=len, reverse=True)
    if not text.strip():
        return {}
    if not names:
        raise ControlError(400, f"{where} takes no options, not {text.strip()!r}")
    start = re.compile(r"(?:^|(?<=\s))(" + "|".join(map(re.escape, names)) + r"):")
    found = start.search(text)
    before = text[: found.start() if found else len(text)].strip()
    if found is None or before:
        raise ControlError(
            400, f"{where}: {before!r} is not name:value (options: {', '.join(sorted(names))})"
        )
    options: dict[str, str] = {}
    while found is not None:
        name, begin = found.group(1), found.end()
        value, found = _value(text, begin, start)
        if name in options:
            raise ControlError(400, f"{where}: option {name} is given twice")
        if not value:
            raise ControlError(400, f"{where}: option {name} has no value")
        options[name] = value
    return options


def _value(text: str, begin: int, start: re.Pattern[str]) -> tuple[str, re.Match[str] | None]:
    """The value starting at ``begin`` and the next option's match (None at the end)."""
    if text.startswith('"', begin):
        close = text.find('"', begin + 1)
        if close != -1:
            following = start.search(text, close + 1)
            if not text[close + 1 : following.start() if following else len(text)].strip():
                return text[begin + 1 : close], following
    following = start.search(text, begin)
    return text[begin : following.start() if following else len(text)].strip(), following
