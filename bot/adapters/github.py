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
from typing import Any

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
    pass


class GitHubRejected(GitHubError):
    pass


@dataclass(frozen=True)
class Issue:
    number: int
    url: str  # html_url: the page people open
    title: str
    body: str
    labels: tuple[str, ...]
    state: str

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Issue:
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
        except gidgethub.RateLimitExceeded:
            raise GitHubUnavailable("GitHub's rate limit is used up; try again later") from None
        except gidgethub.GitHubBroken as error:
            raise GitHubUnavailable(f"GitHub is unavailable ({int(error.status_code)})") from None
        except gidgethub.BadRequest as error:
            status = int(error.status_code)
            if status == 429:
                raise GitHubUnavailable("GitHub is rate limiting the bot (429)") from None
            detail = str(error) or error.status_code.phrase
            raise GitHubRejected(f"GitHub refused ({status}): {detail}"[:300]) from None
        except gidgethub.HTTPException as error:
            raise GitHubRejected(f"GitHub answered {int(error.status_code)}") from None
        except (TimeoutError, aiohttp.ClientError) as error:
            raise GitHubUnavailable(f"GitHub cannot be reached ({type(error).__name__})") from None

    # -- issues ---------------------------------------------------------------------------
    async def create_issue(self, title: str, body: str, labels: Sequence[str] = ()) -> Issue:
        data = await self._call(
            "POST",
            f"{self.repo_path}/issues",
            {"title": title, "body": body, "labels": list(labels)},
        )
        return Issue.from_api(data)

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
    async def branch_sha(self, branch: str) -> str:
        data = await self._call("GET", f"{self.repo_path}/git/ref/heads/{branch}")
        return str(data["object"]["sha"])

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
