"""``[alerts]``: how alerts become incidents, the section of the TOML file this phase reads."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.core.durations import Duration

__all__ = ["DEFAULT_SEVERITY_MAP", "AlertsConfig"]

DEFAULT_SEVERITY_MAP = {"critical": "P1", "error": "P2", "warning": "P2", "info": "P3"}


class AlertsConfig(BaseModel):
    """Alert webhooks: how alerts become incidents (bot/alerts/)."""

    model_config = ConfigDict(extra="forbid")

    # The label whose value names the severity (Alertmanager and Grafana alert labels);
    # the generic endpoint reads payload.severity instead.
    severity_label: str = "severity"
    # Label value (case-insensitive) → procedure severity. Merged over the defaults, so
    # `critical = "P0"` alone changes one entry: critical → P1, error/warning → P2, info → P3.
    severity_map: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_SEVERITY_MAP))
    # For a missing or unmapped value; the incident channel says the default was used.
    default_severity: str = "P2"
    # More new alert groups than this in one minute is a storm: the rest are listed in a
    # digest in the ops-alerts channel instead of getting a channel each.
    storm_limit: int = Field(10, ge=1)
    # Pacing: at most one incident channel opened by alerts per this interval.
    open_every: Duration = timedelta(milliseconds=500)
    # How often the storm digest is posted to the ops-alerts channel while entries wait.
    digest_every: Duration = timedelta(seconds=10)
    # At most one alert-update message per incident channel per interval (changes batch up).
    notes_every: Duration = timedelta(seconds=2)
    # A notification carrying more alerts than this is refused (422) before anything is stored.
    max_alerts: int = Field(1000, ge=1)
    # HMAC signatures (Grafana's scheme): the signature and timestamp headers, how far a
    # signed timestamp may be from now, and whether unsigned-timestamp signatures are refused.
    signature_header: str = "X-Grafana-Alerting-Signature"
    timestamp_header: str = "X-Grafana-Alerting-Timestamp"
    replay_window: Duration = timedelta(minutes=5)
    require_timestamp: bool = False

    @field_validator("severity_map", mode="before")
    @classmethod
    def _merge_map(cls, value: Any) -> Any:
        if isinstance(value, dict):
            merged = dict(DEFAULT_SEVERITY_MAP)
            merged.update({str(k).strip().lower(): v for k, v in value.items()})
            return merged
        return value
