"""The three webhook formats, validated, and the one shape the worker reads.

- Alertmanager, webhook ``version: "4"`` (prometheus.io, ``<webhook_config>``).
- Grafana unified alerting's webhook contact point (Alertmanager's shape plus
  ``orgId``, ``title``, ``state``, ``message``; alerts carry ``values``,
  ``silenceURL``, ``imageURL``; ``version: "1"``).
- Generic: PagerDuty Events v2 (``event_action``, ``dedup_key``,
  ``payload{summary, source, severity}``).

Validation is strict (a label value must be a string, ``truncatedAlerts`` an
integer) and unknown fields are ignored, as a newer sender may add some.
:func:`check` runs at the door, before anything is stored; :func:`parse`
turns a stored body into a :class:`Notification` for the worker.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from bot.core.text import from_outside, safe_url

SOURCES = ("alertmanager", "grafana", "generic")
MAX_GROUP_KEY = 4096
MAX_TITLE = 200
MAX_SUMMARY = 900

Status = Literal["firing", "resolved"]
Key = Annotated[str, StringConstraints(min_length=1, max_length=MAX_GROUP_KEY)]
Labels = dict[str, str]


class BadPayload(Exception):
    """A body the webhook refuses; ``status`` is the HTTP answer (400, 413, 422)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, populate_by_name=True)


# -- Alertmanager ----------------------------------------------------------------------------
class AlertmanagerAlert(_Strict):
    status: Status
    labels: Labels
    annotations: Labels = {}
    starts_at: datetime | None = Field(None, alias="startsAt")
    ends_at: datetime | None = Field(None, alias="endsAt")
    generator_url: str | None = Field(None, alias="generatorURL")
    fingerprint: str | None = Field(None, max_length=200)


class AlertmanagerPayload(_Strict):
    version: Literal["4"]
    group_key: Key = Field(alias="groupKey")
    status: Status
    receiver: str = ""
    truncated_alerts: int = Field(0, ge=0, alias="truncatedAlerts")
    group_labels: Labels = Field({}, alias="groupLabels")
    common_labels: Labels = Field({}, alias="commonLabels")
    common_annotations: Labels = Field({}, alias="commonAnnotations")
    external_url: str = Field("", alias="externalURL")
    alerts: list[AlertmanagerAlert] = Field(min_length=1)


# -- Grafana ---------------------------------------------------------------------------------
class GrafanaAlert(AlertmanagerAlert):
    values: dict[str, Any] | None = None
    silence_url: str | None = Field(None, alias="silenceURL")
    dashboard_url: str | None = Field(None, alias="dashboardURL")
    panel_url: str | None = Field(None, alias="panelURL")
    image_url: str | None = Field(None, alias="imageURL")


class GrafanaPayload(_Strict):
    status: Status
    alerts: list[GrafanaAlert] = Field(min_length=1)
    group_key: Key | None = Field(None, alias="groupKey")
    org_id: int | None = Field(None, alias="orgId")
    version: str | None = None
    receiver: str = ""
    truncated_alerts: int = Field(0, ge=0, alias="truncatedAlerts")
    group_labels: Labels = Field({}, alias="groupLabels")
    common_labels: Labels = Field({}, alias="commonLabels")
    common_annotations: Labels = Field({}, alias="commonAnnotations")
    external_url: str = Field("", alias="externalURL")
    title: str | None = None
    state: str | None = None
    message: str | None = None


# -- Generic (PagerDuty Events v2) -----------------------------------------------------------
class GenericDetails(_Strict):
    summary: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    source: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    severity: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    timestamp: datetime | None = None
    component: str | None = None
    group: str | None = None
    class_: str | None = Field(None, alias="class")
    custom_details: Any = None


class GenericEvent(_Strict):
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    routing_key: str | None = None  # PagerDuty's; never stored (see check)
    payload: GenericDetails | None = None
    client: str | None = None
    client_url: str | None = None

    @model_validator(mode="after")
    def _needs(self) -> GenericEvent:
        if self.event_action == "trigger" and self.payload is None:
            raise ValueError("a trigger needs `payload` with summary, source and severity")
        if self.event_action != "trigger" and self.dedup_key is None:
            raise ValueError(f"`{self.event_action}` needs the `dedup_key` of the trigger")
        return self


MODELS: dict[str, type[_Strict]] = {
    "alertmanager": AlertmanagerPayload,
    "grafana": GrafanaPayload,
    "generic": GenericEvent,
}


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


# -- at the door -----------------------------------------------------------------------------
def check(source: str, body: bytes, max_alerts: int) -> tuple[_Strict, bytes]:
    """Validate ``body``; return the model and the bytes to store. Raise :class:`BadPayload`.

    The alerts are counted before any of them is validated: a body of a million empty
    alerts is refused for its count in one cheap parse, not after a million errors.
    """
    raw = _loaded(body)
    alerts = raw.get("alerts") if isinstance(raw, dict) else None
    if isinstance(alerts, list):
        _check_count(len(alerts), max_alerts)
    model = _validate(source, body)
    _check_count(len(getattr(model, "alerts", ()) or ()), max_alerts)
    stored = body
    if isinstance(model, GenericEvent) and model.routing_key is not None and isinstance(raw, dict):
        # PagerDuty's routing key is a credential of the sender's: it is not kept.
        raw.pop("routing_key", None)
        stored = json.dumps(raw).encode()
    return model, stored


def _loaded(body: bytes) -> Any:
    """The body as plain JSON values, or None when it is not JSON (validation says why)."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _check_count(count: int, max_alerts: int) -> None:
    if count > max_alerts:
        raise BadPayload(
            422,
            f"{count} alerts in one notification; the limit is {max_alerts} "
            "(alerts.max_alerts; Alertmanager's max_alerts or Grafana's Max Alerts caps it)",
        )


def _validate(source: str, body: bytes) -> _Strict:
    model_type = MODELS[source]
    try:
        return model_type.model_validate_json(body)
    except ValidationError as error:
        raise _refusal(error) from None


def _refusal(error: ValidationError) -> BadPayload:
    items = error.errors(include_url=False, include_input=False, include_context=False)
    first = items[0]
    if first["type"] == "json_invalid":
        detail = first["msg"].removeprefix("Invalid JSON: ")
        return BadPayload(400, f"body is not valid JSON: {detail}")
    if not first["loc"] and first["type"] in {"model_type", "model_attributes_type", "dict_type"}:
        return BadPayload(422, "body must be a JSON object")
    problems = []
    for item in items[:5]:
        where = ".".join(str(part) for part in item["loc"]) or "body"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "missing":
            message = "required field is missing"
        elif item["type"] == "literal_error":
            message = f"unknown value; {message[0].lower()}{message[1:]}"
        problems.append(f"{where}: {message}")
    more = f" (and {len(items) - 5} more problems)" if len(items) > 5 else ""
    return BadPayload(422, "; ".join(problems) + more)


# -- for the worker --------------------------------------------------------------------------
def parse(source: str, body: bytes | str, severity_label: str = "severity") -> Notification:
    """The stored ``body`` of ``source`` as a :class:`Notification` (raise :class:`BadPayload`)."""
    raw = body.encode() if isinstance(body, str) else body
    model = _validate(source, raw)
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
