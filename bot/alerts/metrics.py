"""Prometheus metrics, in a registry of their own (never the process-global one)."""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from types import SimpleNamespace
from typing import Any

import aiohttp
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_ACCEPT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
_DISCORD_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class AlertMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.received = Counter(
            "incident_bot_alerts_received",
            "Webhook notifications received, by source and outcome",
            ["source", "outcome"],
            registry=r,
        )
        self.accept_seconds = Histogram(
            "incident_bot_alert_accept_seconds",
            "From request to the stored notification's 2xx answer",
            ["source"],
            buckets=_ACCEPT_BUCKETS,
            registry=r,
        )
        self.incidents_opened = Counter(
            "incident_bot_incidents_opened",
            "Incidents declared, by how (alert or command)",
            ["source"],
            registry=r,
        )
        self.open_incidents = Gauge(
            "incident_bot_open_incidents", "Incidents declared and not yet resolved", registry=r
        )
        self.pending_notifications = Gauge(
            "incident_bot_alert_notifications_pending",
            "Stored notifications the worker has not applied yet",
            registry=r,
        )
        self.digest_entries = Counter(
            "incident_bot_alert_digest_entries",
            "Alert groups listed in the storm digest instead of getting a channel",
            ["source"],
            registry=r,
        )
        self.discord_latency = Histogram(
            "incident_bot_discord_request_seconds",
            "Discord REST request latency, by method, first path segment and status",
            ["method", "route", "status"],
            buckets=_DISCORD_BUCKETS,
            registry=r,
        )


def route_of(path: str) -> str:
    """The first segment after ``/api/v10``: bounded, and free of ids and interaction tokens."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        parts = parts[2:]
    head = parts[0] if parts else ""
    return head if head.isalpha() and len(head) <= 32 else "other"


def discord_trace(metrics_of: Callable[[], AlertMetrics | None]) -> aiohttp.TraceConfig:
    """An aiohttp trace for discord.py's HTTP client (``Client(http_trace=...)``).

    ``metrics_of`` is asked at each request, so the trace can be handed to the
    client before the services that own the registry exist.
    """
    trace = aiohttp.TraceConfig()

    async def on_start(_session: Any, context: SimpleNamespace, _params: Any) -> None:
        context.started = perf_counter()

    async def on_end(_session: Any, context: SimpleNamespace, params: Any) -> None:
        _observe(context, params.method, params.url.path, str(params.response.status))

    async def on_error(_session: Any, context: SimpleNamespace, params: Any) -> None:
        _observe(context, params.method, params.url.path, "error")

    def _observe(context: SimpleNamespace, method: str, path: str, status: str) -> None:
        metrics = metrics_of()
        started = getattr(context, "started", None)
        if metrics is None or started is None:
            return
        metrics.discord_latency.labels(method, route_of(path), status).observe(
            perf_counter() - started
        )

    trace.on_request_start.append(on_start)
    trace.on_request_end.append(on_end)
    trace.on_request_exception.append(on_error)
    return trace
