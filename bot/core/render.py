"""Jinja2 templates under ``templates/``; a team overrides one by path in the TOML."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import FileSystemLoader, StrictUndefined, Template, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from bot.config_problems import ConfigError, ConfigProblem
from bot.core.durations import format_duration

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


class Renderer:
    def __init__(
        self, zone: ZoneInfo, overrides: dict[str, Path] | None = None, root: Path = TEMPLATES
    ) -> None:
        self._overrides = {name: Path(path) for name, path in (overrides or {}).items()}
        self._env = SandboxedEnvironment(
            loader=FileSystemLoader([str(root)]),
            autoescape=False,  # Markdown for Discord, X and GitHub; nothing here is HTML
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self._zone = zone
        self._env.filters["duration"] = format_duration
        self._env.filters["local"] = self._local
        self._env.filters["hhmm"] = lambda at: self._local(at, "%H:%M")
        self._env.filters["ts"] = discord_timestamp
        self._root = root
        self._compiled: dict[str, Template] = {}  # overrides, read and compiled once

    def compile_all(self) -> None:
        """Compile every template now, at start: a team's override with a syntax error is
        a ConfigError naming it (not a failed page at 3 a.m.), and the first incident does
        not wait for the compiler. An override is read once; a changed file takes effect
        on the next start, as the TOML does."""
        problems = []
        for name, path in self._overrides.items():
            try:
                self._override(name, path)
            except TemplateSyntaxError as error:
                problem = f"{path}, line {error.lineno}: {error.message}"
                problems.append(ConfigProblem(key=f"templates.{name}", problem=problem))
        if problems:
            raise ConfigError(problems)
        for template in sorted(self._root.glob("*.j2")):
            if template.name not in self._overrides:
                self._env.get_template(template.name)

    def _override(self, name: str, path: Path) -> Template:
        template = self._compiled.get(name)
        if template is None:
            template = self._env.from_string(path.read_text(encoding="utf-8"))
            self._compiled[name] = template
        return template

    def _local(self, at: datetime, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
        return at.astimezone(self._zone).strftime(fmt)

    def render(self, name: str, **context: Any) -> str:
        override = self._overrides.get(name)
        if override is not None:
            template = self._override(name, override)
        else:
            template = self._env.get_template(name)
        return template.render(**context).strip()


def discord_timestamp(at: datetime | str, style: str = "f") -> str:
    """``<t:…:style>``, which each reader's Discord shows in their own time zone; ``at`` may
    be an ISO 8601 string, as notes keep their times."""
    moment = datetime.fromisoformat(at) if isinstance(at, str) else at
    return f"<t:{int(moment.timestamp())}:{style}>"
