"""The authorization matrix: every privileged command × every kind of member, end to end
(the real bot in the sandbox, driven by the control API), against tests/matrix/table.py.

An allowed command does its work; a refused one answers only the member, with the rule
("Only … may …"), and changes nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from sandbox.control_client import Control
from tests.e2e.helpers import find_channel, text_of
from tests.matrix.table import KINDS, MATRIX, PERSON, STRIP

_titles = itertools.count(1)


@pytest.fixture
def overlay() -> dict[str, Any]:
    return {
        "rotation": {
            "shifts": [
                {
                    "start": "2020-01-01T00:00+00:00",
                    "end": "2099-01-01T00:00+00:00",
                    "primary": "@bob",
                    "secondary": "@frank",
                }
            ]
        },
        "procedure": {"severities": {"P2": {"escalate_after": "6h"}}},
    }


class Matrix:
    def __init__(self, control: Control, bot: Any) -> None:
        self.control, self.bot = control, bot
        self.ids: dict[str, str] = {}

    async def setup(self) -> None:
        world = await self.control.world(refresh=True)
        for person, roles in STRIP.items():
            user = await self.control.user_id(person)
            for role in roles:
                await self.control.request("DELETE", f"members/{user}/roles", json={"role": role})
        for kind, person in PERSON.items():
            self.ids[kind] = await self.control.user_id(person)
        self.ids["bot"] = str(world["application_id"])
        self.general = await self.control.channel_id("general")
        # The role changes reach the bot over the gateway; wait until it sees the last one.
        await self.control.wait_for(
            self._roles_seen, what="the bot sees the stripped roles", timeout=10
        )

    async def _roles_seen(self) -> bool:
        discord = self.bot.services.discord
        return discord.role_names(self.ids["admin"]) == frozenset({"incident-admin"}) and (
            discord.role_names(self.ids["signer"]) == frozenset({"multisig-signer"})
        )

    async def run(self, kind: str, channel: str, name: str, sub: str, **options: Any) -> str:
        answer = await self.control.command(self.ids[kind], channel, name, sub, **options)
        return text_of(answer)

    async def incident(self) -> str:
        """A fresh P2 incident: bob paged (the primary), command handed to carol by alice."""
        title = f"Matrix case {next(_titles)}"
        said = await self.run(
            "admin", self.general, "incident", "declare", title=title, severity="P2"
        )
        assert "Declared P2" in said, said
        slug = title.lower().replace(" ", "-")
        channel = await self.control.wait_for(
            lambda: find_channel(self.control, "incident-", slug), what=f"#…{slug}"
        )
        said = await self.run(
            "admin", channel["id"], "incident", "commander", member=self.ids["commander"]
        )
        assert "is now the incident commander" in said, said
        return str(channel["id"])

    async def state(self, channel: str) -> tuple[Any, ...]:
        incident = await self.bot.services.incidents.in_channel(channel)
        return incident.status, incident.severity, incident.commander_id, incident.acknowledged_at


@pytest.fixture
async def matrix(bot: Any, control: Control) -> Matrix:
    m = Matrix(control, bot)
    await m.setup()
    return m


Case = Callable[[Matrix, str, str], Awaitable[str]]


async def _in_channel(m: Matrix, kind: str, channel: str, sub: str, **options: Any) -> str:
    return await m.run(kind, channel, "incident", sub, **options)


async def _reopen(m: Matrix, kind: str, channel: str) -> str:
    return await _in_channel(m, kind, channel, "reopen")


CASES: dict[str, tuple[Case, str]] = {
    # action → (the command, what an allowed answer says)
    "acknowledge": (lambda m, k, c: _in_channel(m, k, c, "ack"), "acknowledged"),
    "change severity": (
        lambda m, k, c: _in_channel(m, k, c, "severity", level="P3"),
        "Severity changed from P2 to **P3**",
    ),
    "hand over": (
        lambda m, k, c: _in_channel(m, k, c, "commander", member=m.ids["none"]),
        "is now the incident commander",
    ),
    "mitigated": (lambda m, k, c: _in_channel(m, k, c, "mitigated"), "Mitigated, by"),
    "resolve": (lambda m, k, c: _in_channel(m, k, c, "resolve"), "Resolved after"),
    "reopen": (_reopen, "Reopened by"),
    "post update": (
        lambda m, k, c: _in_channel(m, k, c, "update", text="Matrix: still looking"),
        "Status update posted",
    ),
}


def _refused(said: str, doing: str) -> bool:
    return said.startswith("Only ") and (f"may {doing}" in said if doing else " may " in said)


@pytest.mark.parametrize("action", list(CASES))
async def test_incident_command_is_allowed_or_refused_as_configured(
    matrix: Matrix, action: str
) -> None:
    command, done = CASES[action]
    doing, table = MATRIX[action]
    wrong: list[str] = []
    shared: str | None = None  # one incident for every refusal: a refusal changes nothing
    for kind in KINDS:
        if table[kind]:
            channel = await matrix.incident()
        else:
            shared = shared or await matrix.incident()
            channel = shared
        if action == "reopen":
            said = await matrix.run("admin", channel, "incident", "resolve")
            assert "Resolved after" in said, said
        before = await matrix.state(channel)
        said = await command(matrix, kind, channel)
        after = await matrix.state(channel)
        if table[kind]:
            # An update changes no field of the incident; every other action does.
            if done not in said or (after == before and action != "post update"):
                wrong.append(f"{kind}: expected allowed, got {said!r} ({before} → {after})")
        elif not _refused(said, doing) or after != before:
            wrong.append(f"{kind}: expected refused, got {said!r} ({before} → {after})")
        if action == "reopen" and not table[kind]:
            shared = None  # the next refusal needs a resolved incident again: a fresh one
    assert not wrong, f"/{action}:\n" + "\n".join(wrong)
