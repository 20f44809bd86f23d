"""The GitHub API's repository side (git refs and files, as commits) and the gate every call
passes (faults, the token, the one repository); the issues are in github.py."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from .world import World

DOCS = "https://docs.github.com/rest"


def _error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response(
        {"message": message, "documentation_url": DOCS, **extra}, status=status
    )


def _sha(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


@dataclass
class Commit:
    sha: str
    parent: str | None
    message: str
    files: dict[str, bytes]


class RepoRoutes:
    """``/repos/{o}/{r}/git/…`` and ``/contents/…`` of one repository, behind the gate."""

    owner: str
    repo: str
    token: str
    commits: dict[str, Commit]
    refs: dict[str, str]
    _world: World | None

    # -- the gate every API call passes ----------------------------------------------------
    def _gate(self, request: web.Request) -> web.Response | None:
        fault = self._world.discord.faults.take_rest_prefixed(request.path) if self._world else None
        if fault is not None and fault.kind == "server_error":
            return _error(502, "Server Error")
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in ("token", "bearer") or token.strip() != self.token:
            return _error(401, "Bad credentials")
        if fault is not None:
            response = _error(403, "API rate limit exceeded for user.")
            response.headers["x-ratelimit-remaining"] = "0"
            response.headers["x-ratelimit-limit"] = "5000"
            response.headers["x-ratelimit-reset"] = str(int(datetime.now(UTC).timestamp()) + 1)
            return response
        info = request.match_info
        if (info.get("owner"), info.get("repo")) != (self.owner, self.repo):
            return _error(404, "Not Found")
        return None

    async def _json(self, request: web.Request) -> dict[str, Any] | web.Response:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "Problems parsing JSON")
        if not isinstance(body, dict):
            return _error(400, "Problems parsing JSON")
        return body

    push_access: bool

    async def get_repo(self, request: web.Request) -> web.Response:
        if (refused := self._gate(request)) is not None:
            return refused
        return web.json_response(
            {
                "name": self.repo,
                "full_name": f"{self.owner}/{self.repo}",
                "owner": {"login": self.owner},
                "default_branch": "main",
                "permissions": {"admin": False, "push": self.push_access, "pull": True},
            }
        )

    # -- git refs and files ----------------------------------------------------------------
    async def get_ref(self, request: web.Request) -> web.Response:
        if (refused := self._gate(request)) is not None:
            return refused
        ref = f"refs/{request.match_info['ref']}"
        sha = self.refs.get(ref)
        if sha is None:
            return _error(404, "Not Found")
        return web.json_response(
            {"ref": ref, "node_id": ref, "object": {"sha": sha, "type": "commit"}}
        )

    async def create_ref(self, request: web.Request) -> web.Response:
        if (refused := self._gate(request)) is not None:
            return refused
        body = await self._json(request)
        if isinstance(body, web.Response):
            return body
        ref, sha = body.get("ref"), body.get("sha")
        if not isinstance(ref, str) or not ref.startswith("refs/") or ref.count("/") < 2:
            return _error(422, "ref must be fully qualified, e.g. refs/heads/name")
        if not self.push_access:  # a fine-grained token with read-only contents
            return _error(403, "Resource not accessible by personal access token")
        if not isinstance(sha, str) or sha not in self.commits:
            return _error(422, "Object does not exist")
        if ref in self.refs:
            return _error(422, "Reference already exists")
        self.refs[ref] = sha
        return web.json_response({"ref": ref, "object": {"sha": sha, "type": "commit"}}, status=201)

    def _branch(self, name: str | None) -> tuple[str, str | None]:
        ref = f"refs/heads/{name or 'main'}"
        return ref, self.refs.get(ref)

    async def get_contents(self, request: web.Request) -> web.Response:
        if (refused := self._gate(request)) is not None:
            return refused
        _, head = self._branch(request.query.get("ref"))
        path = request.match_info["path"]
        data = self.commits[head].files.get(path) if head else None
        if data is None:
            return _error(404, "Not Found")
        return web.json_response(
            {
                "type": "file",
                "path": path,
                "sha": _sha(data),
                "encoding": "base64",
                "content": base64.b64encode(data).decode(),
            }
        )

    async def put_contents(self, request: web.Request) -> web.Response:
        if (refused := self._gate(request)) is not None:
            return refused
        body = await self._json(request)
        if isinstance(body, web.Response):
            return body
        if not isinstance(body.get("message"), str) or not isinstance(body.get("content"), str):
            return _error(422, "Invalid request: message and content are required")
        try:
            data = base64.b64decode(body["content"], validate=True)
        except (binascii.Error, ValueError):
            return _error(422, "content is not valid Base64")
        ref, head = self._branch(body.get("branch"))
        if head is None:
            return _error(404, f"Branch {body.get('branch')} not found")
        path = request.match_info["path"]
        current = self.commits[head].files.get(path)
        if current is not None and body.get("sha") != _sha(current):
            return _error(409, f"{path} does not match {body.get('sha')}")
        if current is None and body.get("sha"):
            return _error(422, "sha given for a file that does not exist")
        commit = Commit(
            secrets.token_hex(20),
            head,
            body["message"],
            {**self.commits[head].files, path: data},
        )
        self.commits[commit.sha] = commit
        self.refs[ref] = commit.sha
        return web.json_response(
            {
                "content": {"path": path, "sha": _sha(data), "type": "file"},
                "commit": {"sha": commit.sha, "message": commit.message},
            },
            status=201 if current is None else 200,
        )
