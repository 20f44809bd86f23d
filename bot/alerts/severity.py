"""From an alert's severity label to the procedure's severity (configuration, not code)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.alerts.config import AlertsConfig
from bot.core.text import in_code
from bot.procedure import Procedure


@dataclass(frozen=True)
class Mapped:
    severity: str  # a name of the procedure's severities
    note: str | None  # set when the configured default was used, for the channel


def map_value(value: str | None, config: AlertsConfig, procedure: Procedure) -> str | None:
    """The severity ``value`` maps to, or None when it is missing or unmapped."""
    if value is None or not value.strip():
        return None
    target = config.severity_map.get(value.strip().lower())
    return procedure.severity(target).name if target else None


def choose(values: Iterable[str | None], config: AlertsConfig, procedure: Procedure) -> Mapped:
    """The most severe mapped value among ``values`` (the firing alerts' labels).

    None of them mapped: the configured default, with a note saying why.
    """
    mapped: list[str] = []
    unmapped: list[str] = []
    for value in values:
        target = map_value(value, config, procedure)
        if target is not None:
            mapped.append(target)
        elif value is not None and value.strip():
            unmapped.append(value.strip())
    if mapped:
        return Mapped(min(mapped, key=procedure.rank), None)
    default = procedure.severity(config.default_severity).name
    if unmapped:
        shown = ", ".join(f"`{_plain(v)}`" for v in dict.fromkeys(unmapped))
        note = (
            f"severity {shown} is not in `alerts.severity_map`; "
            f"used the default {default} (`alerts.default_severity`)"
        )
    else:
        note = (
            f"no `{_plain(config.severity_label)}` label on the alerts; "
            f"used the default {default} (`alerts.default_severity`)"
        )
    return Mapped(default, note)


def _plain(text: str, limit: int = 40) -> str:
    """Safe inside Markdown backticks, short: the label's value comes from the sender."""
    return in_code(text, limit)
