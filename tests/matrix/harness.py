"""The matrix's driver: the sandbox world's people stripped to their kind, fresh incidents,
and how a row is judged (allowed, or refused with the configured reason, recorded once)."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from bot.core.permissions import describe
from sandbox.control_client import Control
from storage.audit import Refusal, refusals
from storage.models import Incident
from tests.e2e.helpers import find_channel, text_of
from tests.fuzz.helpers import paced
from tests.matrix.table import ANYONE, KINDS, PERSON, STRIP, Row

_titles = itertools.count(1)
IGNORED = "(ignored: nothing done, nobody told)"  # what a case says of an ignored gesture

# The matrix's rotation: bob primary, frank secondary (frank is paged by nothing: P2 waits
# 6 h before escalating).
OVERLAY: dict[str, Any] = {
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
    "procedure": {
        "severities": {
            name: {"escalate_after": "6h", "respond_within": "6h"} for name in ("P0", "P1", "P2")
        }
    },
}


class Matrix:
    def __init__(self, control: Control, bot: Any, world: Any) -> None:
        self.control, self.bot, self.world = control, bot, world
        self.ids: dict[str, str] = {}

    async def paced(self) -> None:
        await paced(self.world, self.control)

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

    async def incident(self, severity: str = "P2") -> str:
        """A fresh incident: bob paged (the primary), command handed to carol by alice."""
        title = f"Matrix case {next(_titles)}"
        said = await self.run(
            "admin", self.general, "incident", "declare", title=title, severity=severity
        )
        assert f"Declared {severity}" in said, said
        slug = title.lower().replace(" ", "-")
        channel = await self.control.wait_for(
            lambda: find_channel(self.control, "incident-", slug), what=f"#…{slug}"
        )
        said = await self.run(
            "admin", channel["id"], "incident", "commander", member=self.ids["commander"]
        )
        assert "is now the incident commander" in said, said
        return str(channel["id"])

    async def resolved(self, severity: str = "P2") -> str:
        channel = await self.incident(severity)
        said = await self.run("admin", channel, "incident", "resolve")
        assert "Resolved after" in said, said
        return channel

    async def of(self, channel: str) -> Incident:
        incident: Incident = await self.bot.services.incidents.in_channel(channel)
        return incident

    async def state(self, channel: str) -> tuple[Any, ...]:
        incident = await self.of(channel)
        return incident.status, incident.severity, incident.commander_id, incident.acknowledged_at

    async def count(self, model: Any) -> int:
        async with self.bot.services.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)

    async def refusals(self) -> list[Refusal]:
        async with self.bot.services.sessions() as session:
            return await refusals(session)

    def reason(self, row: Row, **extra: str) -> str:
        """What the configuration makes a refused member read."""
        if row.rule == ANYONE or "." not in row.rule:
            return row.reason.format(**extra)
        section, key = row.rule.split(".")
        rule = list(getattr(getattr(self.bot.settings.config, section), key))
        if row.action == "answer close-out":
            rule = [who for who in rule if who != "commander"]
        return row.reason.format(who=describe(rule), **extra)


@dataclass(frozen=True)
class Case:
    """How a row runs for one kind: ``prepare`` (by an admin) gives what ``act`` needs;
    ``snapshot`` is what a refusal must leave as it was; ``done`` is in an allowed answer."""

    act: Callable[[Matrix, str, Any], Awaitable[str]]
    prepare: Callable[[Matrix], Awaitable[Any]]
    snapshot: Callable[[Matrix, Any], Awaitable[Any]]
    done: str = ""


async def check_row(m: Matrix, row: Row, case: Case) -> None:
    """Every kind, against the row: the wrong cells listed at once."""
    wrong: list[str] = []
    shared: Any = None  # one context for every refusal: a refusal changes nothing
    for kind in KINDS:
        await m.paced()
        if row.outcome(kind):
            context = await case.prepare(m)
        else:
            shared = shared if shared is not None else await case.prepare(m)
            context = shared
        await m.paced()
        before = await case.snapshot(m, context)
        recorded = len(await m.refusals())
        said = await case.act(m, kind, context)
        after = await case.snapshot(m, context)
        new = (await m.refusals())[recorded:]
        reason = m.reason(row, **(context if isinstance(context, dict) else {}))
        if kind in row.ignored:
            if said != IGNORED or after != before or any(r.user_id == m.ids[kind] for r in new):
                wrong.append(f"{kind}: expected ignored, got {said!r} ({before} → {after})")
        elif row.outcome(kind):
            if (reason and reason in said) or new or case.done not in said:
                wrong.append(f"{kind}: expected allowed, got {said!r} (recorded {new})")
        else:
            if reason not in said or after != before:
                wrong.append(f"{kind}: expected {reason!r}, got {said!r} ({before} → {after})")
            elif [(r.user_id, reason in r.reason) for r in new] != [(m.ids[kind], True)]:
                wrong.append(f"{kind}: refused, but recorded as {[vars(r) for r in new]}")
    assert not wrong, f"{row.action} ({row.how}):\n" + "\n".join(wrong)
