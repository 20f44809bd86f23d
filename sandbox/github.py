"""GitHub REST (v3 shapes) in the world: one repository's issues, labels, comments, refs, files.

Routes, as GitHub has them, under the world's root (``api_base`` is the world's URL):

- ``POST /repos/{o}/{r}/issues`` ``{title, body, labels[], assignees[]}`` → 201;
  ``GET /repos/{o}/{r}/issues?state=&labels=&per_page=&page=``; ``GET``/``PATCH
  /repos/{o}/{r}/issues/{n}``; ``POST``/``GET /repos/{o}/{r}/issues/{n}/comments``.
- ``GET /repos/{o}/{r}/git/ref/heads/{branch}``; ``POST /repos/{o}/{r}/git/refs``
  ``{ref, sha}`` (422 when it exists).
- ``GET``/``PUT /repos/{o}/{r}/contents/{path}`` ``{message, content (base64), branch,
  sha?}`` (409 when ``sha`` is not the file's current blob).

A world whose ``push_access`` is False plays a token without push access: issues are
created with their labels, assignees and milestone silently dropped, as GitHub does, and
``POST git/refs`` is 403. ``GET /repos/{o}/{r}`` tells ``permissions.push``.

Every call needs ``Authorization: token <t>`` or ``Bearer <t>`` with the world's token
(401 ``Bad credentials`` otherwise); other repositories are 404. Faults:
``POST /_sandbox/faults {"kind": "server_error" | "rate_limit", "path_prefix": "/repos"}``.

The git side (refs, files) and the gate are in github_repo.py.

Control: ``GET /_sandbox/github/issues`` → ``[{number, title, body, labels, state, url}]``
(labels by name), ``GET /_sandbox/github/refs`` → ``[{ref, sha}]``;
additions:
``GET /_sandbox/github/issues/{n}/comments`` → ``[{id, body, at}]``,
``GET /_sandbox/github/files?ref=`` → ``[{path, text}]``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .github_deploy import DeployRoutes
from .github_repo import Commit, RepoRoutes, _error

if TYPE_CHECKING:
    from .world import World

LABEL_COLOURS = {"incident": "d73a4a"}


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Comment:
    id: int
    body: str
    at: datetime


@dataclass
class GhIssue:
    number: int
    title: str
    body: str
    labels: list[str]
    assignees: list[str]
    state: str = "open"
    milestone: int | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    comments: list[Comment] = field(default_factory=list)


class GitHubApi(RepoRoutes, DeployRoutes):
    """One repository, ``owner/repo``, reachable with the world's token."""

    key = "github"

    def __init__(self, owner: str = "atrium", repo: str = "atrium") -> None:
        self.owner, self.repo = owner, repo
        self.token = f"ghp_{secrets.token_urlsafe(27)}"
        self.issues: list[GhIssue] = []
        self.labels: dict[str, str] = {"bug": "d73a4a", "incident": "b60205"}
        # False: the token lacks push access, and GitHub silently drops the labels (and
        # assignees) of the issues it creates, answering 201 all the same.
        self.push_access = True
        root = Commit(secrets.token_hex(20), None, "Initial commit", {"README.md": b"# Atrium\n"})
        self.commits: dict[str, Commit] = {root.sha: root}
        self.refs: dict[str, str] = {"refs/heads/main": root.sha}
        self._world: World | None = None
        self._comment_ids = 1000
        self._init_deploys()

    # -- WorldPart -------------------------------------------------------------------------
    def mount(self, world: World) -> None:
        self._world = world
        repo = "/repos/{owner}/{repo}"
        router = world.app.router
        router.add_get(repo, self.get_repo)
        router.add_post(f"{repo}/issues", self.create_issue)
        router.add_get(f"{repo}/issues", self.list_issues)
        router.add_get(f"{repo}/issues/{{number:\\d+}}", self.get_issue)
        router.add_patch(f"{repo}/issues/{{number:\\d+}}", self.update_issue)
        router.add_post(f"{repo}/issues/{{number:\\d+}}/comments", self.create_comment)
        router.add_get(f"{repo}/issues/{{number:\\d+}}/comments", self.list_comments)
        router.add_get(f"{repo}/git/ref/{{ref:.+}}", self.get_ref)
        router.add_post(f"{repo}/git/refs", self.create_ref)
        router.add_get(f"{repo}/contents/{{path:.+}}", self.get_contents)
        router.add_put(f"{repo}/contents/{{path:.+}}", self.put_contents)
        router.add_get("/_sandbox/github/issues", self.control_issues)
        router.add_get("/_sandbox/github/issues/{number:\\d+}/comments", self.control_comments)
        router.add_get("/_sandbox/github/refs", self.control_refs)
        router.add_get("/_sandbox/github/files", self.control_files)
        world.extra_secrets["INCIDENT_BOT_GITHUB_TOKEN"] = self.token
        self.mount_deploys(world)

    async def start(self, world: World) -> None:
        self._world = world

    async def stop(self) -> None:
        return None

    def describe(self) -> dict[str, Any]:
        return {"api_base": self._base, "owner": self.owner, "repo": self.repo}

    @property
    def _base(self) -> str:
        return self._world.base_url if self._world else ""

    def html_url(self, number: int) -> str:
        return f"{self._base}/github/{self.owner}/{self.repo}/issues/{number}"

    # -- control ---------------------------------------------------------------------------
    async def control_issues(self, request: web.Request) -> web.Response:
        return web.json_response(
            [
                {
                    "number": i.number,
                    "title": i.title,
                    "body": i.body,
                    "labels": list(i.labels),
                    "state": i.state,
                    "url": self.html_url(i.number),
                }
                for i in self.issues
            ]
        )

    async def control_comments(self, request: web.Request) -> web.Response:
        issue = self._issue(int(request.match_info["number"]))
        if issue is None:
            return web.json_response({"error": "no such issue"}, status=404)
        return web.json_response(
            [{"id": c.id, "body": c.body, "at": _iso(c.at)} for c in issue.comments]
        )

    async def control_refs(self, request: web.Request) -> web.Response:
        return web.json_response([{"ref": r, "sha": s} for r, s in sorted(self.refs.items())])

    async def control_files(self, request: web.Request) -> web.Response:
        ref = request.query.get("ref", "main")
        sha = self.refs.get(f"refs/heads/{ref}")
        if sha is None:
            return web.json_response({"error": f"no branch {ref}"}, status=404)
        files = self.commits[sha].files
        return web.json_response(
            [{"path": p, "text": d.decode(errors="replace")} for p, d in sorted(files.items())]
        )

    def _issue(self, number: int) -> GhIssue | None:
        return next((i for i in self.issues if i.number == number), None)

    def _gated_issue(self, request: web.Request) -> GhIssue | web.Response:
        """The issue ``{number}`` of an authorised request, or the error answer."""
        if (refused := self._gate(request)) is not None:
            return refused
        issue = self._issue(int(request.match_info["number"]))
        return issue if issue is not None else _error(404, "Not Found")

    def _issue_view(self, issue: GhIssue) -> dict[str, Any]:
        api = f"{self._base}/repos/{self.owner}/{self.repo}/issues/{issue.number}"
        return {
            "id": 100000 + issue.number,
            "number": issue.number,
            "title": issue.title,
            "body": issue.body,
            "state": issue.state,
            "labels": [
                {"name": name, "color": self.labels.get(name, "ededed"), "default": False}
                for name in issue.labels
            ],
            "assignees": [{"login": login} for login in issue.assignees],
            "comments": len(issue.comments),
            "milestone": (
                self.milestone_view(m) if (m := self.milestone(issue.milestone or 0)) else None
            ),
            "url": api,
            "html_url": self.html_url(issue.number),
            "comments_url": f"{api}/comments",
            "created_at": _iso(issue.created_at),
            "user": {"login": "atrium-incident-bot"},
        }

    # -- issues ----------------------------------------------------------------------------
    async def create_issue(self, request: web.Request) -> web.Response:
        if (refused := self._gate(request)) is not None:
            return refused
        body = await self._json(request)
        if isinstance(body, web.Response):
            return body
        title = body.get("title")
        if not isinstance(title, str) or not title.strip():
            return _error(
                422,
                "Validation Failed",
                errors=[{"resource": "Issue", "field": "title", "code": "missing_field"}],
            )
        labels = [str(label) for label in body.get("labels") or []]
        assignees = [str(a) for a in body.get("assignees") or []]
        milestone = body.get("milestone")
        if milestone is not None and (
            not isinstance(milestone, int) or self.milestone(milestone) is None
        ):
            return _error(
                422,
                "Validation Failed",
                errors=[{"resource": "Issue", "field": "milestone", "code": "invalid"}],
            )
        if not self.push_access:  # milestones are dropped the same way
            labels, assignees, milestone = [], [], None
        for label in labels:  # as for a token with push access: unknown labels are created
            self.labels.setdefault(label, LABEL_COLOURS.get(label, "ededed"))
        issue = GhIssue(
            number=len(self.issues) + 1,
            title=title,
            body=str(body.get("body") or ""),
            labels=labels,
            assignees=assignees,
            milestone=milestone,
        )
        self.issues.append(issue)
        return web.json_response(self._issue_view(issue), status=201)

    async def list_issues(self, request: web.Request) -> web.Response:
        if (refused := self._gate(request)) is not None:
            return refused
        query = request.query
        state = query.get("state", "open")
        wanted = {name for name in query.get("labels", "").split(",") if name}
        try:
            per_page = max(1, min(100, int(query.get("per_page", 30))))
            page = max(1, int(query.get("page", 1)))
        except ValueError:
            return _error(400, "per_page and page are numbers")
        issues = [
            i
            for i in self.issues
            if (state == "all" or i.state == state) and wanted <= set(i.labels)
        ]
        if query.get("direction", "desc") == "desc":
            issues = list(reversed(issues))
        chunk = issues[(page - 1) * per_page : page * per_page]
        return web.json_response([self._issue_view(i) for i in chunk])

    async def get_issue(self, request: web.Request) -> web.Response:
        issue = self._gated_issue(request)
        if isinstance(issue, web.Response):
            return issue
        return web.json_response(self._issue_view(issue))

    async def update_issue(self, request: web.Request) -> web.Response:
        issue = self._gated_issue(request)
        if isinstance(issue, web.Response):
            return issue
        body = await self._json(request)
        if isinstance(body, web.Response):
            return body
        if body.get("state") in ("open", "closed"):
            issue.state = body["state"]
        for key in ("title", "body"):
            if isinstance(body.get(key), str):
                setattr(issue, key, body[key])
        if isinstance(body.get("labels"), list):
            issue.labels = [str(label) for label in body["labels"]]
        return web.json_response(self._issue_view(issue))

    async def create_comment(self, request: web.Request) -> web.Response:
        issue = self._gated_issue(request)
        if isinstance(issue, web.Response):
            return issue
        body = await self._json(request)
        if isinstance(body, web.Response):
            return body
        text = body.get("body")
        if not isinstance(text, str) or not text.strip():
            return _error(422, "Validation Failed")
        self._comment_ids += 1
        comment = Comment(self._comment_ids, text, datetime.now(UTC))
        issue.comments.append(comment)
        return web.json_response(
            {
                "id": comment.id,
                "body": comment.body,
                "html_url": f"{self.html_url(issue.number)}#issuecomment-{comment.id}",
                "created_at": _iso(comment.at),
            },
            status=201,
        )

    async def list_comments(self, request: web.Request) -> web.Response:
        issue = self._gated_issue(request)
        if isinstance(issue, web.Response):
            return issue
        return web.json_response(
            [{"id": c.id, "body": c.body, "created_at": _iso(c.at)} for c in issue.comments]
        )
