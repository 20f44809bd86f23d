"""The GitHub API's deployments, deployment statuses and milestones, and the control calls that
play a deploy tool (Vercel's GitHub integration) and a developer pushing a commit.

Routes, as GitHub has them:

- ``GET /repos/{o}/{r}/deployments?ref=&sha=&environment=&per_page=&page=`` (newest first);
  ``GET /repos/{o}/{r}/deployments/{id}/statuses`` (newest first).
- ``GET /repos/{o}/{r}/milestones?state=`` and ``POST /repos/{o}/{r}/milestones {title}``.

Every ``/repos/…`` answer carries ``x-ratelimit-limit``, ``-remaining`` and ``-reset``
(``rate_limit_remaining`` counts down; a ``rate_limit`` fault answers 403 with 0 left).

Control:

- ``POST /_sandbox/github/deployments {ref, environment, state, environment_url?}``: the
  deployment of the ref's current sha for that environment (made on first use), a new
  status on it, and the signed ``deployment_status`` webhook sent to the bot when the world
  knows the bot's webhook URL. Answers ``{deployment, status, webhook}`` (``webhook`` is the
  bot's HTTP status, or null when none was sent).
- ``POST /_sandbox/github/commits {branch, message?, path?, text?}``: a commit on the
  branch (a developer's push); answers ``{sha, branch}``.
- ``GET``/``POST /_sandbox/github/milestones`` ``{title}``: the milestones, each with the
  numbers of its ``issues`` / a new one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from .github_repo import Commit, _error

if TYPE_CHECKING:
    from .world import World

STATES = ("queued", "in_progress", "success", "failure", "error", "inactive", "pending")
WEBHOOK_PATH = "/github/webhook"


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class DeployStatus:
    id: int
    state: str
    environment_url: str
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class Deployment:
    id: int
    sha: str
    ref: str
    environment: str
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    statuses: list[DeployStatus] = field(default_factory=list)


@dataclass
class Milestone:
    number: int
    title: str
    state: str = "open"


class DeployRoutes:
    owner: str
    repo: str
    issues: list[Any]  # GhIssue (github.py)
    commits: dict[str, Commit]
    refs: dict[str, str]
    _world: World | None

    def _init_deploys(self) -> None:
        self.deployments: list[Deployment] = []
        self.milestones: list[Milestone] = []
        self.webhook_secret = secrets.token_hex(20)
        self.rate_limit_remaining = 5000
        self._status_ids = 5000

    def mount_deploys(self, world: World) -> None:
        repo = "/repos/{owner}/{repo}"
        router = world.app.router
        router.add_get(f"{repo}/deployments", self.list_deployments)
        router.add_get(f"{repo}/deployments/{{id:\\d+}}/statuses", self.list_statuses)
        router.add_get(f"{repo}/milestones", self.list_milestones)
        router.add_post(f"{repo}/milestones", self.create_milestone)
        router.add_post("/_sandbox/github/deployments", self.control_deploy)
        router.add_get("/_sandbox/github/deployments", self.control_deployments)
        router.add_post("/_sandbox/github/commits", self.control_commit)
        router.add_get("/_sandbox/github/milestones", self.control_milestones)
        router.add_post("/_sandbox/github/milestones", self.control_add_milestone)
        world.extra_secrets["INCIDENT_BOT_GITHUB_WEBHOOK_SECRETS"] = self.webhook_secret
        world.app.middlewares.append(self.rate_headers)

    if TYPE_CHECKING:

        def _gate(self, request: web.Request) -> web.Response | None: ...  # RepoRoutes'

    @web.middleware
    async def rate_headers(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Every ``/repos/…`` answer says what is left of the hourly budget, as GitHub's do."""
        response = await handler(request)
        if request.path.startswith("/repos/") and "x-ratelimit-remaining" not in response.headers:
            self.rate_limit_remaining = max(0, self.rate_limit_remaining - 1)
            response.headers["x-ratelimit-limit"] = "5000"
            response.headers["x-ratelimit-remaining"] = str(self.rate_limit_remaining)
            response.headers["x-ratelimit-reset"] = str(int(datetime.now(UTC).timestamp()) + 3600)
        return response

    # -- views -----------------------------------------------------------------------------
    def _api(self) -> str:
        base = self._world.base_url if self._world else ""
        return f"{base}/repos/{self.owner}/{self.repo}"

    def deployment_view(self, d: Deployment) -> dict[str, Any]:
        url = f"{self._api()}/deployments/{d.id}"
        return {
            "id": d.id,
            "sha": d.sha,
            "ref": d.ref,
            "task": "deploy",
            "environment": d.environment,
            "original_environment": d.environment,
            "production_environment": d.environment.lower() == "production",
            "transient_environment": d.environment.lower() != "production",
            "payload": {},
            "description": None,
            "creator": {"login": "vercel[bot]"},
            "created_at": _iso(d.created_at),
            "updated_at": _iso(d.created_at),
            "url": url,
            "statuses_url": f"{url}/statuses",
        }

    def status_view(self, d: Deployment, s: DeployStatus) -> dict[str, Any]:
        return {
            "id": s.id,
            "state": s.state,
            "environment": d.environment,
            "environment_url": s.environment_url,
            "target_url": s.environment_url,
            "log_url": s.environment_url,
            "description": f"Deployment {s.state}",
            "creator": {"login": "vercel[bot]"},
            "created_at": _iso(s.created_at),
            "updated_at": _iso(s.created_at),
            "deployment_url": f"{self._api()}/deployments/{d.id}",
        }

    def milestone_view(self, m: Milestone) -> dict[str, Any]:
        return {"number": m.number, "title": m.title, "state": m.state, "id": 7000 + m.number}

    def milestone(self, number: int) -> Milestone | None:
        return next((m for m in self.milestones if m.number == number), None)

    # -- REST ------------------------------------------------------------------------------
    async def list_deployments(self, request: web.Request) -> web.Response:
        if (refused := self._gate(request)) is not None:
            return refused
        query = request.query
        try:
            per_page = max(1, min(100, int(query.get("per_page", 30))))
            page = max(1, int(query.get("page", 1)))
        except ValueError:
            return _error(400, "per_page and page are numbers")
        found = [
            d
            for d in reversed(self.deployments)
            if all(
                query.get(key) in (None, getattr(d, key)) for key in ("ref", "sha", "environment")
            )
        ]
        chunk = found[(page - 1) * per_page : page * per_page]
        return web.json_response([self.deployment_view(d) for d in chunk])

    async def list_statuses(self, request: web.Request) -> web.Response:
        if (refused := self._gate(request)) is not None:
            return refused
        wanted = int(request.match_info["id"])
        deployment = next((d for d in self.deployments if d.id == wanted), None)
        if deployment is None:
            return _error(404, "Not Found")
        views = [self.status_view(deployment, s) for s in reversed(deployment.statuses)]
        return web.json_response(views)

    async def list_milestones(self, request: web.Request) -> web.Response:
        if (refused := self._gate(request)) is not None:
            return refused
        state = request.query.get("state", "open")
        found = [m for m in self.milestones if state == "all" or m.state == state]
        return web.json_response([self.milestone_view(m) for m in found])

    async def create_milestone(self, request: web.Request) -> web.Response:
        if (refused := self._gate(request)) is not None:
            return refused
        return await self.control_add_milestone(request)

    # -- control ---------------------------------------------------------------------------
    async def _control_body(self, request: web.Request) -> dict[str, Any] | web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return web.json_response({"error": "send a JSON object"}, status=400)
        return body

    def _resolve(self, ref: str) -> str | None:
        if ref in self.commits:
            return ref
        name = ref if ref.startswith("refs/") else f"refs/heads/{ref}"
        return self.refs.get(name)

    async def control_deployments(self, request: web.Request) -> web.Response:
        """``[{id, sha, ref, environment, created_at, statuses:[{state, environment_url,
        created_at}]}]``: the deployments the world holds, newest first (an addition)."""
        return web.json_response(
            [
                {
                    "id": d.id,
                    "sha": d.sha,
                    "ref": d.ref,
                    "environment": d.environment,
                    "created_at": _iso(d.created_at),
                    "statuses": [
                        {
                            "state": s.state,
                            "environment_url": s.environment_url,
                            "created_at": _iso(s.created_at),
                        }
                        for s in d.statuses
                    ],
                }
                for d in reversed(self.deployments)
            ]
        )

    async def control_milestones(self, request: web.Request) -> web.Response:
        return web.json_response(
            [
                {
                    **self.milestone_view(m),
                    "issues": [i.number for i in self.issues if i.milestone == m.number],
                }
                for m in self.milestones
            ]
        )

    async def control_add_milestone(self, request: web.Request) -> web.Response:
        body = await self._control_body(request)
        if isinstance(body, web.Response):
            return body
        title = body.get("title")
        if not isinstance(title, str) or not title.strip():
            return web.json_response({"error": "title is required"}, status=422)
        if any(m.title == title for m in self.milestones):
            return web.json_response({"error": f"milestone {title!r} exists"}, status=422)
        milestone = Milestone(len(self.milestones) + 1, title)
        self.milestones.append(milestone)
        return web.json_response(self.milestone_view(milestone), status=201)

    async def control_commit(self, request: web.Request) -> web.Response:
        body = await self._control_body(request)
        if isinstance(body, web.Response):
            return body
        branch = body.get("branch")
        ref = f"refs/heads/{branch}"
        head = self.refs.get(ref) if isinstance(branch, str) else None
        if head is None:
            return web.json_response({"error": f"no branch {branch!r}"}, status=404)
        path = str(body.get("path") or "FIX.md")
        text = str(body.get("text") or "fix\n")
        files = {**self.commits[head].files, path: text.encode()}
        commit = Commit(secrets.token_hex(20), head, str(body.get("message") or "Fix"), files)
        self.commits[commit.sha] = commit
        self.refs[ref] = commit.sha
        return web.json_response({"sha": commit.sha, "branch": branch}, status=201)

    async def control_deploy(self, request: web.Request) -> web.Response:
        body = await self._control_body(request)
        if isinstance(body, web.Response):
            return body
        ref, environment, state = body.get("ref"), body.get("environment"), body.get("state")
        url = body.get("environment_url") or ""
        if not isinstance(ref, str) or not ref:
            return web.json_response({"error": "ref is required"}, status=400)
        if not isinstance(environment, str) or not environment.strip():
            return web.json_response({"error": "environment is required"}, status=400)
        if state not in STATES:
            return web.json_response(
                {"error": f"state must be one of {', '.join(STATES)}"}, status=400
            )
        if not isinstance(url, str):
            return web.json_response({"error": "environment_url is a string"}, status=400)
        sha = self._resolve(ref)
        if sha is None:
            return web.json_response({"error": f"no ref or commit {ref!r}"}, status=404)
        name = ref.removeprefix("refs/heads/") if ref != sha else sha
        deployment = next(
            (d for d in self.deployments if d.sha == sha and d.environment == environment),
            None,
        )
        if deployment is None:
            deployment = Deployment(len(self.deployments) + 1, sha, name, environment)
            self.deployments.append(deployment)
        self._status_ids += 1
        status = DeployStatus(self._status_ids, state, url)
        deployment.statuses.append(status)
        delivered = await self._send_webhook(deployment, status)
        return web.json_response(
            {
                "deployment": self.deployment_view(deployment),
                "status": self.status_view(deployment, status),
                "webhook": delivered,
            },
            status=201,
        )

    async def _send_webhook(self, deployment: Deployment, status: DeployStatus) -> int | None:
        base = self._world.options.webhook_base_url if self._world else None
        if not base:
            return None
        payload = {
            "action": "created",
            "deployment_status": self.status_view(deployment, status),
            "deployment": self.deployment_view(deployment),
            "repository": {
                "name": self.repo,
                "full_name": f"{self.owner}/{self.repo}",
                "owner": {"login": self.owner},
            },
            "sender": {"login": "vercel[bot]"},
        }
        body = json.dumps(payload).encode()
        digest = hmac.new(self.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "deployment_status",
            "X-GitHub-Delivery": secrets.token_hex(16),
            "X-Hub-Signature-256": f"sha256={digest}",
            "User-Agent": "GitHub-Hookshot/sandbox",
        }
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
                async with http.post(
                    base.rstrip("/") + WEBHOOK_PATH, data=body, headers=headers
                ) as r:
                    return r.status
        except (TimeoutError, aiohttp.ClientError):
            return 0  # the bot is not listening: GitHub records a failed delivery
