"""How a bad configuration is told (ConfigProblem, ConfigError, pydantic errors named by
their key) and how TOML tables merge over the defaults: the parts of loading the
settings that need no section of them (bot/settings.py)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from bot.procedure import default_procedure


class ConfigProblem(BaseModel):
    key: str
    problem: str
    expected: str | None = None

    def __str__(self) -> str:
        tail = f" (expected {self.expected})" if self.expected else ""
        return f"{self.key}: {self.problem}{tail}"


class ConfigError(Exception):
    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def merge(base: Any, override: Any) -> Any:
    """``override`` deep-merged over ``base`` (tables merge, anything else replaces)."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = merge(base.get(key), value) if key in base else value
        return merged
    return override


def merge_procedure(raw: dict[str, Any]) -> dict[str, Any]:
    """``[procedure.severities.P1]`` tables merge into the defaults by name; a list replaces."""
    base = default_procedure().model_dump()
    severities = raw.get("severities")
    merged = merge(base, {k: v for k, v in raw.items() if k != "severities"})
    if isinstance(severities, dict):
        by_name = {s["name"]: s for s in base["severities"]}
        for name, table in severities.items():
            current = by_name.get(name, {"name": name})
            by_name[name] = merge(current, {**table, "name": name})
        merged["severities"] = list(by_name.values())
    elif severities is not None:
        merged["severities"] = severities
    return merged


def problems_of(error: ValidationError, prefix: str = "") -> list[ConfigProblem]:
    problems = []
    for item in error.errors():
        loc = ".".join(str(part) for part in item["loc"]) or "(top level)"
        kind = item.get("type", "")
        expected = {
            "int_parsing": "a whole number",
            "float_parsing": "a number",
            "bool_parsing": "true or false",
            "missing": "this key to be set",
            "extra_forbidden": "no such key; see incident-bot.example.toml for the keys",
            "string_type": "a string",
            "list_type": "a list",
        }.get(kind)
        message = item["msg"].removeprefix("Value error, ")
        problems.append(ConfigProblem(key=prefix + loc, problem=message, expected=expected))
    return problems


__all__ = ["ConfigError", "ConfigProblem", "merge", "merge_procedure", "problems_of"]
