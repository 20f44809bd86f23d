"""The three webhook formats, validated, and the one shape the worker reads.

- Alertmanager, webhook ``version: "4"`` (prometheus.io, ``<webhook_config>``).
- Grafana unified alerting's webhook contact point (Alertmanager's shape plus
  ``orgId``, ``title``, ``state``, ``message``; alerts carry ``values``,
  ``silenceURL``, ``imageURL``; ``version: "1"``).
- Generic: PagerDuty Events v2 (``event_action``, ``dedup_key``,
  ``payload{summary, source, severity}``).

Validation is strict (a label value must be a string, ``truncatedAlerts`` an
integer) and unknown fields are ignored, as a newer sender may add some.
:func:`check` runs at the door, before anything is stored; bot/alerts/notification.py
turns a stored body into the worker's :class:`Notification`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

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
    model = validate(source, body)
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


def validate(source: str, body: bytes) -> _Strict:
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
