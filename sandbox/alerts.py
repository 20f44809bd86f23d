"""A sample Alertmanager webhook (v4) and the control route that fires it at the bot."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import aiohttp

ALERTMANAGER_PATH = "/alerts/alertmanager"


def sample_alertmanager_payload(now: datetime | None = None) -> dict[str, Any]:
    started = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    labels = {
        "alertname": "BridgeOutflowAnomaly",
        "severity": "critical",
        "service": "bridge",
        "chain": "mainnet",
    }
    annotations = {
        "summary": "Bridge outflow 14x the 7-day baseline",
        "description": "Withdrawals from the bridge vault exceeded 2,400 ETH in 10 minutes.",
        "runbook_url": "https://ops.atrium.invalid/runbooks/bridge-outflow",
    }
    fingerprint = hashlib.sha1(repr(sorted(labels.items())).encode()).hexdigest()[:16]
    return {
        "version": "4",
        "groupKey": '{}:{alertname="BridgeOutflowAnomaly"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "incident-bot",
        "groupLabels": {"alertname": labels["alertname"]},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": "http://alertmanager.atrium.invalid",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": annotations,
                "startsAt": started,
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.atrium.invalid/graph?g0.expr=bridge_outflow",
                "fingerprint": fingerprint,
            }
        ],
    }


async def fire(
    base_url: str, bearer_token: str, hmac_secret: str, payload: dict[str, Any]
) -> tuple[int, str]:
    """POST ``payload`` to ``base_url + /alerts/alertmanager`` as Alertmanager would."""
    body = json.dumps(payload).encode()
    signature = hmac.new(hmac_secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {bearer_token}",
        "X-Signature-256": f"sha256={signature}",
    }
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async with session.post(
            base_url.rstrip("/") + ALERTMANAGER_PATH, data=body, headers=headers
        ) as response:
            return response.status, await response.text()
