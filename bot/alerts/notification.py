"""The one shape the worker reads, whatever the format: a :class:`Notification` of
:class:`AlertEvent` s, made by :func:`parse` from a body that passed the door's check
(bot/alerts/formats.py), and the small rules it is made with (title, fingerprint, clip).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.alerts.formats import (
    MAX_SUMMARY,
    MAX_TITLE,
    AlertmanagerPayload,
    GenericEvent,
    GrafanaPayload,
    validate,
)
from bot.core.text import from_outside, safe_url


# -- the worker's shape ----------------------------------------------------------------------
@dataclass(frozen=True)
class AlertEvent:
    fingerprint: str
    status: str  # firing | resolved
    name: str
    labels: dict[str, str]
    annotations: dict[str, Any]
    starts_at: datetime | None
    ends_at: datetime | None
    url: str | None
    severity: str | None  # the severity label's raw value, if any

    @property
    def summary(self) -> str | None:
        text = self.annotations.get("summary") or self.annotations.get("description")
        return str(text) if text else None


@dataclass(frozen=True)
class Notification:
    source: str
    group_key: str
    title: str
    summary: str | None
    alerts: tuple[AlertEvent, ...]
    action: str = "notify"  # notify | acknowledge (generic only)
    link: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# -- for the worker --------------------------------------------------------------------------
def parse(source: str, body: bytes | str, severity_label: str = "severity") -> Notification:
    """The stored ``body`` of ``source`` as a :class:`Notification` (raise :class:`BadPayload`)."""
    raw = body.encode() if isinstance(body, str) else body
    model = validate(source, raw)
    if isinstance(model, GenericEvent):
        return _from_generic(model, severity_label)
    assert isinstance(model, AlertmanagerPayload | GrafanaPayload)
    return _from_alertmanager_shape(source, model, severity_label)


def _from_alertmanager_shape(
    source: str, model: AlertmanagerPayload | GrafanaPayload, severity_label: str
) -> Notification:
    alerts = tuple(
        AlertEvent(
            fingerprint=alert.fingerprint or labels_fingerprint(alert.labels),
            status=alert.status,
            name=(alert.labels.get("alertname") or "alert")[:200],
            labels=dict(alert.labels),
            annotations=dict(alert.annotations),
            starts_at=_moment(alert.starts_at),
            ends_at=_moment(alert.ends_at),
            url=alert.generator_url or None,
            severity=alert.labels.get(severity_label),
        )
        for alert in model.alerts
    )
    if isinstance(model, GrafanaPayload):
        labels = json.dumps(model.group_labels, sort_keys=True)
        key = model.group_key or f"receiver={model.receiver}:{labels}"
        group_key = f"org{model.org_id}/{key}" if model.org_id is not None else key
    else:
        group_key = model.group_key
    common_annotations = model.common_annotations
    summary = common_annotations.get("description") or common_annotations.get("summary")
    if summary is None and len(alerts) == 1:
        summary = alerts[0].annotations.get("description")
    return Notification(
        source=source,
        group_key=group_key,
        title=title_for(source, model.common_annotations, model.common_labels, alerts),
        summary=from_outside(summary, MAX_SUMMARY),
        alerts=alerts,
        link=safe_url(model.external_url),
        extra={"receiver": model.receiver, "truncated_alerts": model.truncated_alerts},
    )


def _from_generic(model: GenericEvent, severity_label: str) -> Notification:
    details = model.payload
    if model.dedup_key is not None:
        key = model.dedup_key
    else:  # PagerDuty makes one up; ours is stable, so a re-sent trigger is the same alert
        assert details is not None
        key = "auto-" + _digest(f"{details.source}\n{details.summary}")[:32]
    alerts: tuple[AlertEvent, ...] = ()
    title = f"Alert {key}"
    summary = None
    if details is not None:
        labels = {severity_label: details.severity, "source": details.source}
        for name, value in (
            ("component", details.component),
            ("group", details.group),
            ("class", details.class_),
        ):
            if value:
                labels[name] = value
        annotations: dict[str, Any] = {"summary": details.summary}
        if details.custom_details is not None:
            annotations["custom_details"] = details.custom_details
        title = details.summary
        summary = f"{details.summary} (source: {details.source})"
    else:
        labels, annotations = {}, {}
    if model.event_action != "acknowledge":
        alerts = (
            AlertEvent(
                fingerprint=key[:200],
                status="firing" if model.event_action == "trigger" else "resolved",
                name=((details.component or details.source) if details else key)[:200],
                labels=labels,
                annotations=annotations,
                starts_at=_moment(details.timestamp) if details else None,
                ends_at=None,
                url=model.client_url,
                severity=details.severity if details else None,
            ),
        )
    return Notification(
        source="generic",
        group_key=key,
        title=clean_title(title, "Generic alert"),
        summary=from_outside(summary, MAX_SUMMARY),
        alerts=alerts,
        action="acknowledge" if model.event_action == "acknowledge" else "notify",
        link=safe_url(model.client_url),
    )


# -- small rules -----------------------------------------------------------------------------
def title_for(
    source: str,
    common_annotations: dict[str, str],
    common_labels: dict[str, str],
    alerts: tuple[AlertEvent, ...],
) -> str:
    """What people call this group: the common summary, else the alert name(s)."""
    fallback = f"{source.capitalize()} alert"
    if common_annotations.get("summary"):
        return clean_title(common_annotations["summary"], fallback)
    if common_labels.get("alertname"):
        return clean_title(common_labels["alertname"], fallback)
    names: list[str] = []
    for alert in alerts:
        if alert.name not in names:
            names.append(alert.name)
    if not names:
        return fallback
    more = f" and {len(names) - 1} more" if len(names) > 1 else ""
    return clean_title(names[0][: MAX_TITLE - len(more)] + more, fallback)


def clean_title(text: str, fallback: str) -> str:
    """One line of at most 200 characters with a letter or digit in it, made inert
    (:func:`bot.core.text.from_outside`): the sender wrote it, not the bot."""
    cleaned = from_outside(" ".join(str(text).split()), MAX_TITLE)
    if not cleaned or not any(ch.isalnum() for ch in cleaned):
        return fallback
    return cleaned


def labels_fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's fingerprint is a hash of the label set; ours too, when none is sent."""
    return _digest(json.dumps(labels, sort_keys=True, ensure_ascii=False))[:16]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _moment(value: datetime | None) -> datetime | None:
    """Aware UTC, or None for Go's zero time (``0001-01-01T00:00:00Z``) and the unrepresentable."""
    if value is None or value.year <= 1:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def clip(text: str | None, limit: int) -> str | None:
    """``text`` stripped, ``None`` when empty, cut to ``limit`` characters with an ellipsis."""
    if text is None:
        return None
    text = str(text).strip()
    if not text:
        return None
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
