"""A small Python client for the control API, for tests and benchmarks.

It speaks only the published HTTP contract (``/_sandbox/…``), exactly as an
acceptance check outside the repository would.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp


class ControlError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


class Control:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._http: aiohttp.ClientSession | None = None
        self._world: dict[str, Any] | None = None

    async def __aenter__(self) -> Control:
        self._http = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._http is not None:
            await self._http.close()

    async def request(self, method: str, path: str, json: Any = None, **params: Any) -> Any:
        assert self._http is not None, "use `async with Control(url)`"
        async with self._http.request(
            method, f"{self.base_url}/_sandbox/{path.lstrip('/')}", json=json, params=params or None
        ) as response:
            body = await response.json(content_type=None)
            if response.status >= 400:
                raise ControlError(response.status, body)
            return body

    # -- the contract ----------------------------------------------------------------------
    async def world(self, refresh: bool = False) -> dict[str, Any]:
        if self._world is None or refresh:
            self._world = await self.request("GET", "world")
        return self._world

    async def messages(self, channel_id: str) -> list[dict[str, Any]]:
        return await self.request("GET", f"channels/{channel_id}/messages")

    async def command(
        self,
        user_id: str,
        channel_id: str,
        name: str,
        subcommand: str | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "user_id": user_id,
            "channel_id": channel_id,
            "name": name,
            "options": options,
        }
        if subcommand:
            body["subcommand"] = subcommand
        return await self.request("POST", "commands", json=body)

    async def press(
        self,
        user_id: str,
        channel_id: str,
        message_id: str,
        custom_id: str,
        values: list[str] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "user_id": user_id,
            "channel_id": channel_id,
            "message_id": message_id,
            "custom_id": custom_id,
        }
        if values is not None:
            body["values"] = values
        return await self.request("POST", "components", json=body)

    async def submit_modal(
        self, user_id: str, channel_id: str, custom_id: str, fields: dict[str, str]
    ) -> dict[str, Any]:
        return await self.request(
            "POST",
            "modals",
            json={
                "user_id": user_id,
                "channel_id": channel_id,
                "custom_id": custom_id,
                "fields": fields,
            },
        )

    async def post(self, user_id: str, channel_id: str, content: str) -> dict[str, Any]:
        return await self.request(
            "POST",
            "messages",
            json={"user_id": user_id, "channel_id": channel_id, "content": content},
        )

    async def react(self, user_id: str, channel_id: str, message_id: str, emoji: str) -> Any:
        return await self.request(
            "POST",
            "reactions",
            json={
                "user_id": user_id,
                "channel_id": channel_id,
                "message_id": message_id,
                "emoji": emoji,
            },
        )

    async def unreact(self, user_id: str, channel_id: str, message_id: str, emoji: str) -> Any:
        return await self.request(
            "DELETE",
            "reactions",
            json={
                "user_id": user_id,
                "channel_id": channel_id,
                "message_id": message_id,
                "emoji": emoji,
            },
        )

    async def edit_role(
        self, role: str, permissions: int | None = None, mentionable: bool | None = None
    ) -> dict[str, Any]:
        """The admin changes a role (its id or name): ``PATCH /_sandbox/roles/{role}``."""
        body: dict[str, Any] = {}
        if permissions is not None:
            body["permissions"] = str(permissions)
        if mentionable is not None:
            body["mentionable"] = mentionable
        return await self.request("PATCH", f"roles/{role}", json=body)

    async def take_from_bot(self, *bits: int) -> dict[str, Any]:
        """Remove permission bits from the bot's role, as an admin would."""
        role = (await self.world(refresh=True))["bot_role"]
        remaining = int(role["permissions"])
        for bit in bits:
            remaining &= ~bit
        return await self.edit_role(role["id"], permissions=remaining)

    async def set_overwrite(
        self, channel_id: str, target: str, kind: int, allow: int = 0, deny: int = 0
    ) -> dict[str, Any]:
        """``PUT /_sandbox/channels/{id}/permissions/{target}``: a role (0) or member (1)."""
        return await self.request(
            "PUT",
            f"channels/{channel_id}/permissions/{target}",
            json={"type": kind, "allow": str(allow), "deny": str(deny)},
        )

    async def requests(self, since: str | None = None) -> list[dict[str, Any]]:
        return await self.request("GET", "requests", **({"since": since} if since else {}))

    async def fault(
        self,
        kind: str,
        count: int = 1,
        path_prefix: str | None = None,
        method: str | None = None,
        path_pattern: str | None = None,
    ) -> Any:
        body: dict[str, Any] = {"kind": kind, "count": count}
        if path_prefix:
            body["path_prefix"] = path_prefix
        if method:
            body["method"] = method
        if path_pattern:
            body["path_pattern"] = path_pattern
        return await self.request("POST", "faults", json=body)

    async def holds(self) -> list[dict[str, Any]]:
        """Requests a ``hold`` or ``hold_after`` fault stopped (``released`` says which wait)."""
        return (await self.request("GET", "holds"))["held"]

    async def release(self, held_id: int | None = None, drop: bool = False) -> Any:
        body: dict[str, Any] = {"drop": drop}
        if held_id is not None:
            body["id"] = held_id
        return await self.request("POST", "holds/release", json=body)

    async def x_posts(self) -> list[dict[str, Any]]:
        return await self.request("GET", "x/posts")

    async def github_issues(self) -> list[dict[str, Any]]:
        return await self.request("GET", "github/issues")

    async def github_refs(self) -> list[dict[str, Any]]:
        return await self.request("GET", "github/refs")

    # -- conveniences built on the contract ------------------------------------------------
    async def user(self, name: str) -> dict[str, Any]:
        for user in (await self.world())["users"]:
            if user["name"] == name:
                return user
        raise KeyError(name)

    async def user_id(self, name: str) -> str:
        return (await self.user(name))["id"]

    async def channel(self, name: str, refresh: bool = True) -> dict[str, Any] | None:
        for channel in (await self.world(refresh=refresh))["channels"]:
            if channel["name"] == name:
                return channel
        return None

    async def channel_id(self, name: str) -> str:
        channel = await self.channel(name)
        if channel is None:
            raise KeyError(name)
        return channel["id"]

    async def wait_for(
        self,
        probe: Callable[[], Any],
        timeout: float = 10.0,
        interval: float = 0.05,
        what: str = "condition",
    ) -> Any:
        """Poll ``probe`` (sync or async) until it returns something truthy."""
        deadline = time.monotonic() + timeout
        while True:
            result = probe()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout} s for {what}")
            await asyncio.sleep(interval)

    async def wait_for_message(
        self,
        channel_id: str,
        predicate: Callable[[dict[str, Any]], bool],
        timeout: float = 10.0,
        what: str = "a message",
    ) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            for message in await self.messages(channel_id):
                if predicate(message):
                    return message
            return None

        return await self.wait_for(probe, timeout=timeout, what=what)
