"""What the viewer reads beyond Discord (issue 17): the incidents as the guild shows them, the
ops repository's files, the chain (blocks, transactions, proposals; mine, advance time), the
demo's narration, and the web pages the bot links to (X posts, GitHub issues and branches),
which open the matching view of the viewer.

The chain views are in sandbox/views_chain.py. Every read comes from the world itself (Discord state, the bare ops repository, anvil): none
from the bot's database.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .views_chain import KNOWN_FUNCTIONS, ChainViews, json_error, read_body, selector

if TYPE_CHECKING:
    from .world import World

ARCHIVE_CATEGORY = "Incident archive"
_MARKER = re.compile(r"\[incident:(\d+)\]")
_STATE = re.compile(r"\*\*State:\*\*\s*([a-z_]+)")
_SEVERITY = re.compile(r"^(P\d)\b")
OPS_FILES = re.compile(r"^(incidents/.+\.md|docs/.+\.md|runbooks/.+\.md)$")


class ViewerRoutes(ChainViews):
    """Mounted by the world on its app (not a part: it holds no service of its own)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.narration: list[dict[str, Any]] = []
        self.demo_done = False
        self._selectors = {selector(s): s for s in KNOWN_FUNCTIONS}
        self._deployer: str | None = None  # anvil's account 0, which deployed the contracts

    def mount(self, app: web.Application) -> None:
        router = app.router
        # The pages the bot links to: each opens the matching view of the viewer.
        router.add_get("/x/i/web/status/{id}", self.x_page)
        router.add_get("/x/{handle}/status/{id}", self.x_page)
        router.add_get("/github/{owner}/{repo}/issues/{number}", self.github_issue_page)
        router.add_get("/github/{owner}/{repo}/tree/{branch:.+}", self.github_branch_page)
        router.add_get("/github/{owner}/{repo}", self.github_page)
        router.add_get("/_sandbox/incidents", self.incidents)
        router.add_get("/_sandbox/ops-repo/files", self.ops_files)
        router.add_get("/_sandbox/chain/state", self.chain_state)
        router.add_get("/_sandbox/chain/blocks", self.chain_blocks)
        router.add_get("/_sandbox/chain/proposals", self.chain_proposals)
        router.add_post("/_sandbox/chain/mine", self.chain_mine)
        router.add_post("/_sandbox/chain/advance", self.chain_advance)
        router.add_post("/_sandbox/chain/transactions", self.chain_send)
        router.add_get("/_sandbox/demo", self.demo)
        router.add_post("/_sandbox/demo", self.demo_say)

    # -- pages the bot links to ------------------------------------------------------------
    async def x_page(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(f"/#x/{request.match_info['id']}")

    async def github_issue_page(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(f"/#github/issues/{request.match_info['number']}")

    async def github_branch_page(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(f"/#github/refs/{request.match_info['branch']}")

    async def github_page(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/#github")

    # -- incidents as the guild shows them -------------------------------------------------
    async def incidents(self, request: web.Request) -> web.Response:
        """``[{channel_id, incident, severity, state, archived}]``: each incident channel, its
        severity from the kickoff's title (else the topic the bot set), its state from the
        kickoff's **State:** line."""
        state = self.world.discord.state
        channels = state.the_guild.channels
        archives = {c.id for c in channels.values() if c.type == 4 and c.name == ARCHIVE_CATEGORY}
        found = []
        for channel in channels.values():
            marker = _MARKER.search(channel.topic or "")
            if marker is None:
                continue
            topic_severity = _SEVERITY.match(channel.topic or "")
            severity = topic_severity.group(1) if topic_severity else None
            status = None
            for message in sorted(channel.messages.values(), key=lambda m: m.id):
                for embed in message.embeds or []:
                    footer = (embed.get("footer") or {}).get("text") or ""
                    if footer == f"Incident #{marker.group(1)}":
                        seen = _STATE.search(embed.get("description") or "")
                        status = seen.group(1) if seen else status
                        # The kickoff's title follows a severity change; the topic may not.
                        titled = _SEVERITY.match(embed.get("title") or "")
                        severity = titled.group(1) if titled else severity
            archived = channel.parent_id in archives
            found.append(
                {
                    "channel_id": str(channel.id),
                    "incident": int(marker.group(1)),
                    "severity": severity,
                    "state": "archived" if archived else (status or "declared"),
                    "archived": archived,
                }
            )
        return web.json_response(sorted(found, key=lambda i: i["incident"]))

    # -- the ops repository ----------------------------------------------------------------
    async def ops_files(self, request: web.Request) -> web.Response:
        """``[{path, text}]``: the Markdown files on the ops repository's main branch
        (``incidents/``, ``docs/``, ``runbooks/``), and ``commits``: the latest 20."""
        try:
            files, commits = await asyncio.to_thread(self._read_ops, request.query.get("ref"))
        except subprocess.CalledProcessError as error:
            return json_error(404, f"the ops repository cannot be read: {error.stderr!s:.200}")
        return web.json_response({"files": files, "commits": commits})

    def _read_ops(self, ref: str | None) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        git_dir = str(self.world.ops_repo_path)
        branch = ref or "main"

        def git(*args: str) -> str:
            done = subprocess.run(
                ["git", "--git-dir", git_dir, *args],
                capture_output=True,
                text=True,
                check=True,
                timeout=20,
            )
            return done.stdout

        names = [p for p in git("ls-tree", "-r", "--name-only", branch).splitlines()]
        files = [
            {"path": p, "text": git("show", f"{branch}:{p}")} for p in names if OPS_FILES.match(p)
        ]
        log = git("log", "-20", "--format=%H%x09%an%x09%aI%x09%s", branch).splitlines()
        commits = []
        for line in log:
            sha, author, at, subject = [*line.split("\t", 3), "", "", ""][:4]
            commits.append({"sha": sha, "author": author, "at": at, "subject": subject})
        return files, commits

    # -- the demo's narration --------------------------------------------------------------
    async def demo(self, request: web.Request) -> web.Response:
        return web.json_response({"steps": self.narration, "done": self.demo_done})

    async def demo_say(self, request: web.Request) -> web.Response:
        """``{text, step?, total?, done?}``: the demo tells what it does next (the viewer
        shows the latest as a banner)."""
        body = await read_body(request)
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            return json_error(400, "text must be a non-empty string")
        entry = {
            "text": text.strip()[:500],
            "step": body.get("step"),
            "total": body.get("total"),
            "at": datetime.now(UTC).isoformat(),
        }
        self.narration.append(entry)
        self.demo_done = bool(body.get("done"))
        return web.json_response(entry, status=201)
