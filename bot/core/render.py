"""Jinja2 templates under ``templates/``; a team overrides one by path in the TOML."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

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

    def _local(self, at: datetime, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
        return at.astimezone(self._zone).strftime(fmt)

    def render(self, name: str, **context: Any) -> str:
        override = self._overrides.get(name)
        if override is not None:
            template = self._env.from_string(override.read_text(encoding="utf-8"))
        else:
            template = self._env.get_template(name)
        return template.render(**context).strip()


def discord_timestamp(at: datetime | str, style: str = "f") -> str:
    """``<t:…:style>``, which each reader's Discord shows in their own time zone; ``at`` may
    be an ISO 8601 string, as notes keep their times."""
    moment = datetime.fromisoformat(at) if isinstance(at, str) else at
    return f"<t:{int(moment.timestamp())}:{style}>"
