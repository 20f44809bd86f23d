"""Small readers over control-API answers, shared by the end-to-end tests."""

from __future__ import annotations

from typing import Any

from sandbox.control_client import Control

# Alice primary and Bob secondary, always: the tests' rotation unless they test the rotation.
ALWAYS_ON_CALL: dict[str, Any] = {
    "rotation": {
        "shifts": [
            {
                "start": "2020-01-01T00:00+00:00",
                "end": "2099-01-01T00:00+00:00",
                "primary": "@alice",
                "secondary": "@bob",
            }
        ]
    }
}


def text_of(answer: dict[str, Any]) -> str:
    """Every response's content of a command's answer, joined."""
    return "\n".join(r.get("content") or "" for r in answer["responses"])


async def find_channel(
    control: Control, prefix: str = "incident-", suffix: str = ""
) -> dict[str, Any] | None:
    for channel in (await control.world(refresh=True))["channels"]:
        if (
            channel["type"] == 0
            and channel["name"].startswith(prefix)
            and channel["name"].endswith(suffix)
        ):
            return channel
    return None


async def incident_channel_id(control: Control, suffix: str) -> str:
    """The incident channel whose name ends with ``suffix`` (the date part varies)."""
    channel = await control.wait_for(
        lambda: find_channel(control, "incident-", suffix), what=f"#incident-…{suffix}"
    )
    return channel["id"]
