"""What the drills that follow one flow through several kills share: ``cast`` as a signer
runs it, the incident's channel found by its title, and a step's post waited for and
counted (exactly one)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from chaos.stack import Chaos, Findings, until
from sandbox.chain import NodeTools


def cast(*args: str) -> subprocess.CompletedProcess[str]:
    binary = NodeTools().binary("cast")
    if binary is None:
        raise RuntimeError("no cast (run `make node`)")
    return subprocess.run(
        [str(binary), *args], capture_output=True, text=True, timeout=60, check=False
    )


def cast_send(rpc_url: str, key: str, to: str, call: str, *args: str) -> str:
    """``cast send`` with the signer's own key, as a signer would; the mined tx hash."""
    done = cast("send", to, call, *args, "--private-key", key, "--rpc-url", rpc_url, "--json")
    if done.returncode != 0:
        raise RuntimeError(f"cast send {call} failed: {done.stderr[:300]}")
    receipt = json.loads(done.stdout)
    if receipt["status"] not in ("0x1", 1):
        raise RuntimeError(f"cast send {call} reverted: {receipt}")
    return str(receipt["transactionHash"])


def read(rpc_url: str, contract: str, view: str, *args: str) -> str:
    """``cast call`` of a view, e.g. ``paused()(bool)``: its answer as cast prints it."""
    return cast("call", contract, view, *args, "--rpc-url", rpc_url).stdout.strip()


def paused(rpc_url: str, vault: str) -> str:
    return read(rpc_url, vault, "paused()(bool)")


def titles(messages: list[dict[str, Any]]) -> list[str]:
    return [e.get("title") or "" for m in messages for e in m["embeds"]]


def has(message: dict[str, Any], title: str) -> bool:
    return any((e.get("title") or "").startswith(title) for e in message["embeds"])


def buttons(message: dict[str, Any]) -> list[str]:
    """The custom ids of a message's buttons."""
    return [i.get("custom_id", "") for row in message["components"] for i in row["components"]]


async def count_in(control: Any, channel: str, title: str) -> bool:
    return any(has(m, title) for m in await control.messages(channel))


async def channel_of(stack: Chaos, title: str) -> str:
    """The id of the incident channel declared with ``title`` (waited for)."""
    slug = title.lower().replace(" ", "-")

    async def probe() -> str | None:
        return next(
            (c["id"] for c in await stack.incident_channels() if c["name"].endswith(slug)), None
        )

    return await until(probe, 60, f"the channel of {title!r}")


async def declare(stack: Chaos, title: str, severity: str = "P0") -> str:
    """``/incident declare`` as alice; the new incident's channel."""
    alice = await stack.control.user_id("alice")
    general = await stack.control.channel_id("general")
    await stack.control.command(
        alice, general, "incident", "declare", title=title, severity=severity
    )
    return await channel_of(stack, title)


def incident_of(stack: Chaos, channel: str) -> int:
    return int(stack.rows(f"SELECT id FROM incidents WHERE channel_id = '{channel}'")[0][0])


async def one_post(
    stack: Chaos, found: Findings, channel: str, step: str, title: str
) -> dict[str, Any]:
    """Until the step's post is in the channel (the restart finished it); exactly one."""

    async def probe() -> list[dict[str, Any]] | None:
        posts = [m for m in await stack.control.messages(channel) if has(m, title)]
        return posts or None

    try:
        posts = await until(probe, 60, f"{title!r} after the restart")
    except TimeoutError:
        found.check(False, f"{step}: the restart finished the step", f"no {title!r} post")
        raise
    await stack.sleep(3)  # a second post would follow within the watch's poll (2 s)
    posts = [m for m in await stack.control.messages(channel) if has(m, title)]
    found.check(len(posts) == 1, f"{step}: one {title!r} post", f"{len(posts)}")
    found.saw(f"{step}: {len(posts)} {title!r} post after the restart")
    return posts[0]
