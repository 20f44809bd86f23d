"""The GitHub adapter: gidgethub on aiohttp, one repository, token and base URL from settings.

Issues (P3 incidents, with the ``incident`` label and a link to the channel), comments
(status updates), and the git pieces later phases need (a branch from a base, a file on
a branch). Errors come out as :class:`GitHubUnavailable` (try again later) or
:class:`GitHubRejected` (the request itself is wrong); neither message carries the token.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import aiohttp
import gidgethub
from gidgethub.aiohttp import GitHubAPI

from bot.core.locks import check_not_holding
from bot.errors import ExternalServiceError

ACCEPT = "application/vnd.github+json"
REQUESTER = "atrium-incident-bot"


class GitHubError(ExternalServiceError):
    pass


class GitHubUnavailable(GitHubError):
    """Try again later; ``retry_at`` is when GitHub said its rate limit resets, if it did."""

    def __init__(self, message: str, retry_at: datetime | None = None) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class GitHubRejected(GitHubError):
    """The request itself is wrong; ``status`` is GitHub's answer (404, 422...)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Issue:
    number: int
    url: str  # html_url: the page people open
    title: str
    body: str
    labels: tuple[str, ...]
    state: str
    milestone: str | None = None  # its title

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Issue:
        milestone = data.get("milestone")
        return cls(
            number=int(data["number"]),
            url=str(data.get("html_url") or data.get("url") or ""),
            title=str(data.get("title") or ""),
            body=str(data.get("body") or ""),
            labels=tuple(
                str(label["name"] if isinstance(label, dict) else label)
                for label in data.get("labels") or []
            ),
            state=str(data.get("state") or "open"),
            milestone=str(milestone["title"]) if isinstance(milestone, dict) else None,
        )


@dataclass(frozen=True)
class RateLimit:
    limit: int
    remaining: int
    reset_at: datetime


@dataclass(frozen=True)
class Deployment:
    id: int
    sha: str
    ref: str
    environment: str

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Deployment:
        return cls(
            int(data["id"]),
            str(data.get("sha") or ""),
            str(data.get("ref") or ""),
            str(data.get("environment") or ""),
        )


@dataclass(frozen=True)
class DeploymentStatus:
    id: int
    state: str  # queued, in_progress, success, failure, error, inactive, pending
    environment_url: str

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> DeploymentStatus:
        return cls(
            int(data["id"]),
            str(data.get("state") or ""),
            str(data.get("environment_url") or data.get("target_url") or ""),
        )


class GitHubClient:
    def __init__(
        self,
        api_base: str,
        token: str,
        owner: str,
        repo: str,
        api_version: str = "2022-11-28",
        timeout: float = 20.0,
    ) -> None:
        self._base = api_base.rstrip("/")
        self._token = token
        self.owner, self.repo = owner, repo
        self._headers = {"x-github-api-version": api_version}
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._api: GitHubAPI | None = None

    def __repr__(self) -> str:
        return f"GitHubClient({self._base}, {self.owner}/{self.repo})"

    @property
    def repo_path(self) -> str:
        return f"/repos/{self.owner}/{self.repo}"

    def _gh(self) -> GitHubAPI:
        if self._api is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout)
            )
            self._api = GitHubAPI(
                self._session, REQUESTER, oauth_token=self._token, base_url=self._base
            )
        return self._api

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._session, self._api = None, None

    async def _call(self, method: str, url: str, data: Any = None, **kwargs: Any) -> Any:
        # An incident lock is never held across a call to GitHub (it may take its timeout).
        check_not_holding("a call to GitHub")
        gh = self._gh()
        options: dict[str, Any] = {"accept": ACCEPT, "extra_headers": dict(self._headers)}
        try:
            if method == "GET":
                return await gh.getitem(url, kwargs.get("url_vars") or {}, **options)
            calls: dict[str, Callable[..., Awaitable[Any]]] = {
                "POST": gh.post,
                "PATCH": gh.patch,
                "PUT": gh.put,
            }
            call = calls[method]
            return await call(url, kwargs.get("url_vars") or {}, data=data, **options)
        except gidgethub.RateLimitExceeded as error:
            reset = getattr(error.rate_limit, "reset_datetime", None)
            raise GitHubUnavailable(
                "GitHub's rate limit is used up"
                + (f" until {reset:%H:%M:%S} UTC" if reset else "; try again later"),
                reset,
            ) from None
        except gidgethub.GitHubBroken as error:
            raise GitHubUnavailable(f"GitHub is unavailable ({int(error.status_code)})") from None
        except gidgethub.BadRequest as error:
            status = int(error.status_code)
            if status == 429:
                raise GitHubUnavailable("GitHub is rate limiting the bot (429)") from None
            detail = str(error) or error.status_code.phrase
            raise GitHubRejected(f"GitHub refused ({status}): {detail}"[:300], status) from None
        except gidgethub.HTTPException as error:
            status = int(error.status_code)
            raise GitHubRejected(f"GitHub answered {status}", status) from None
        except (TimeoutError, aiohttp.ClientError) as error:
            raise GitHubUnavailable(f"GitHub cannot be reached ({type(error).__name__})") from None

    @property
    def rate_limit(self) -> RateLimit | None:
        """What the last answer's ``x-ratelimit-*`` headers said (None before any)."""
        limit = self._api.rate_limit if self._api is not None else None
        if limit is None:
            return None
        return RateLimit(int(limit.limit), int(limit.remaining), limit.reset_datetime)

    # -- issues ---------------------------------------------------------------------------
    async def create_issue(
        self, title: str, body: str, labels: Sequence[str] = (), milestone: int | None = None
    ) -> Issue:
        data: dict[str, Any] = {"title": title, "body": body, "labels": list(labels)}
        if milestone is not None:
            data["milestone"] = milestone
        answer = await self._call("POST", f"{self.repo_path}/issues", data)
        return Issue.from_api(answer)

    async def milestone_number(self, title: str) -> int | None:
        """The open milestone titled ``title`` (case-insensitive), None when there is none."""
        items = await self._call("GET", f"{self.repo_path}/milestones?state=open&per_page=100")
        for item in items or []:
            if str(item.get("title") or "").casefold() == title.casefold():
                return int(item["number"])
        return None

    # -- deployments (a deploy tool such as Vercel reports through them) ------------------
    async def deployments(
        self, ref: str | None = None, environment: str | None = None
    ) -> list[Deployment]:
        """The newest deployments (up to 30) of ``ref`` and/or ``environment``."""
        query = "&".join(
            f"{key}={quote(value, safe='')}"
            for key, value in (("ref", ref), ("environment", environment))
            if value
        )
        items = await self._call("GET", f"{self.repo_path}/deployments?per_page=30&{query}")
        return [Deployment.from_api(item) for item in items or []]

    async def deployment_statuses(self, deployment_id: int) -> list[DeploymentStatus]:
        """A deployment's statuses, newest first."""
        items = await self._call(
            "GET", f"{self.repo_path}/deployments/{int(deployment_id)}/statuses?per_page=30"
        )
        return [DeploymentStatus.from_api(item) for item in items or []]

    async def find_issue(self, marker: str) -> Issue | None:
        """The issue whose body holds ``marker`` (open or closed), among the newest 300.

        No label filter: GitHub silently drops the labels of an issue created with a token
        that lacks push access, and the hidden marker alone is what identifies ours.
        """
        query = "?state=all&per_page=100&sort=created&direction=desc"
        for page in (1, 2, 3):
            items = await self._call("GET", f"{self.repo_path}/issues{query}&page={page}")
            for item in items or []:
                if marker in str(item.get("body") or "") and "pull_request" not in item:
                    return Issue.from_api(item)
            if len(items or []) < 100:
                return None
        return None

    async def comment(self, number: int, body: str) -> str:
        data = await self._call(
            "POST", f"{self.repo_path}/issues/{number}/comments", {"body": body}
        )
        return str(data.get("html_url") or "")

    # -- git ------------------------------------------------------------------------------
    async def can_push(self) -> bool | None:
        """Whether the token may push to the repository (None: it does not exist, or the
        token cannot see it)."""
        try:
            data = await self._call("GET", self.repo_path)
        except GitHubRejected as error:
            if error.status == 404:
                return None
            raise
        return bool((data.get("permissions") or {}).get("push"))

    async def branch_sha(self, branch: str) -> str:
        data = await self._call("GET", f"{self.repo_path}/git/ref/heads/{branch}")
        return str(data["object"]["sha"])

    async def branch_exists(self, branch: str) -> bool:
        try:
            await self.branch_sha(branch)
        except GitHubRejected as error:
            if error.status == 404:
                return False
            raise
        return True

    async def create_ref(self, name: str, sha: str) -> None:
        """The branch ``name`` at ``sha``; GitHubRejected (422) if it exists."""
        await self._call(
            "POST", f"{self.repo_path}/git/refs", {"ref": f"refs/heads/{name}", "sha": sha}
        )

    async def create_branch(self, name: str, from_branch: str) -> str:
        """Create ``name`` at ``from_branch``'s head; GitHubRejected (422) if it exists."""
        sha = await self.branch_sha(from_branch)
        await self._call(
            "POST", f"{self.repo_path}/git/refs", {"ref": f"refs/heads/{name}", "sha": sha}
        )
        return sha

    async def put_file(
        self, path: str, content: str, message: str, branch: str, sha: str | None = None
    ) -> str:
        """Create (or, given the current blob ``sha``, replace) a file; returns the commit sha."""
        body: dict[str, Any] = {
            "message": message,
            "content": base64.b64encode(content.encode()).decode(),
            "branch": branch,
        }
        if sha is not None:
            body["sha"] = sha
        data = await self._call("PUT", f"{self.repo_path}/contents/{path}", body)
        return str(data["commit"]["sha"])
