"""``POST /github/webhook`` on the bot's webhook server: GitHub's ``deployment_status`` events.

Checked in this order, nothing stored before the last: the ``X-Hub-Signature-256`` HMAC of
the raw body with one of ``INCIDENT_BOT_GITHUB_WEBHOOK_SECRETS`` (two during a rotation;
401 otherwise, and none configured is 401 too), the event (``ping`` 200, others 202
ignored), the JSON, the repository (another one: 202 ignored). A status of a hotfix the bot
follows is recorded (deployments.py) before the 202; its post follows in the background.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web

from bot.adapters.github import Deployment, DeploymentStatus
from bot.mitigate.deployments import Deployments
from bot.mitigate.hotfix import quietly
from storage import fixes as queries

log = logging.getLogger(__name__)
PATH = "/github/webhook"


def _answer(code: int, **body: Any) -> web.Response:
    return web.json_response(body, status=code)


MAX_ID = 2**63 - 1  # GitHub's ids are positive 64-bit integers (and so are the columns)


def _bad_ids(deployment: Any, status: Any) -> str | None:
    """Why the two ids are no GitHub ids (a float, Infinity, a bool, 0, past 64 bits), or
    None; a shape that is no object at all is left to the parse that follows."""
    for name, part in (("deployment", deployment), ("deployment_status", status)):
        if not isinstance(part, dict) or "id" not in part:
            continue
        value = part["id"]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
            return f"{name}.id must be a positive 64-bit integer, not {str(value)[:40]}"
    return None


def signature_ok(secrets: Sequence[str], body: bytes, header: str | None) -> bool:
    if not header or not header.startswith("sha256="):
        return False
    given = header.removeprefix("sha256=").strip().encode()
    return any(
        hmac.compare_digest(hmac.new(s.encode(), body, hashlib.sha256).hexdigest().encode(), given)
        for s in secrets
        if s
    )


class DeployWebhook:
    def __init__(
        self, secrets: Callable[[], Sequence[str]], deployments: Deployments, repository: str
    ) -> None:
        self._secrets = secrets
        self._deployments = deployments
        self._repository = repository.casefold()
        self._tasks: set[asyncio.Task[Any]] = set()

    def mount(self, app: web.Application) -> None:
        app.router.add_post(PATH, self.receive)

    async def receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        secrets = self._secrets()
        if not secrets:
            return _answer(
                401,
                error="no GitHub webhook secret is configured "
                "(set INCIDENT_BOT_GITHUB_WEBHOOK_SECRETS)",
            )
        if not signature_ok(secrets, body, request.headers.get("X-Hub-Signature-256")):
            return _answer(401, error="X-Hub-Signature-256 is missing or does not match the body")
        event = request.headers.get("X-GitHub-Event", "")
        if event == "ping":
            return _answer(200, status="pong")
        if event != "deployment_status":
            return _answer(202, status="ignored", reason=f"event {event or 'none'} is not followed")
        try:
            payload = json.loads(body)
            bad = _bad_ids(payload["deployment"], payload["deployment_status"])
            if bad:
                return _answer(400, error=bad)
            deployment = Deployment.from_api(payload["deployment"])
            status = DeploymentStatus.from_api(payload["deployment_status"])
            repository = str(payload.get("repository", {}).get("full_name") or "")
        except (ValueError, KeyError, TypeError, AttributeError):
            return _answer(
                400,
                error="not a deployment_status event: deployment and "
                "deployment_status are required",
            )
        if repository.casefold() != self._repository:
            return _answer(
                202, status="ignored", reason=f"{repository} is not the product repository"
            )
        d = self._deployments.d
        async with d.sessions() as session:
            incident = await queries.incident_of_ref(
                session, self._deployments.hotfixes.repository, deployment.ref, deployment.sha
            )
        if incident is None:
            return _answer(
                202, status="ignored", reason="not a deployment of a hotfix the bot follows"
            )
        entry_id = await self._deployments.record_status(incident.id, deployment, status, "webhook")
        if entry_id is None:
            return _answer(202, status="ignored", reason="seen before, or nothing to say")
        # The post after the answer: GitHub waits 10 s at most, Discord may be slow.
        task = asyncio.create_task(
            quietly(self._deployments.notices.deliver(entry_id)), name=f"deploy-status-{status.id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return _answer(202, status="accepted", incident=incident.id)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a deployment status was not acted on", exc_info=task.exception())

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
