"""The authorization matrix: every privileged action × every kind of member, end to end
(the real bot in the sandbox, driven by the control API), against tests/matrix/table.py.

An allowed action does its work (or gets past the rule to the action's own checks); a
refused one answers only the member with the configured rule ("Only … may …"), changes
nothing, and is recorded once in the ``audit`` table. The P0 rows that need a chain are in
test_matrix_chain.py.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from bot.core.permissions import Actor
from sandbox.control_client import Control
from storage.models import Incident, RotationOverride
from tests.e2e.helpers import text_of
from tests.matrix.harness import IGNORED, OVERLAY, Case, Matrix, check_row
from tests.matrix.table import BY_ACTION, ROWS

_n = itertools.count(1)
ADDRESS = "0x" + "ab" * 20  # all-lowercase: a valid address


@pytest.fixture
def overlay() -> dict[str, Any]:
    return OVERLAY


@pytest.fixture
async def matrix(bot: Any, control: Control, world: Any) -> Matrix:
    m = Matrix(control, bot, world)
    await m.setup()
    return m


async def _state(m: Matrix, channel: str) -> Any:
    return await m.state(channel)


async def _nothing(m: Matrix, context: Any) -> Any:
    return None


def _in(name: str, sub: str, **options: Any):  # type: ignore[no-untyped-def]
    async def act(m: Matrix, kind: str, channel: str) -> str:
        values = {k: (v(m) if callable(v) else v) for k, v in options.items()}
        return await m.run(kind, channel, name, sub, **values)

    return act


async def _general(m: Matrix) -> str:
    return m.general


async def _declare(m: Matrix, kind: str, channel: str) -> str:
    title = f"Matrix declare {next(_n)}"
    return await m.run(kind, channel, "incident", "declare", title=title, severity="P2")


async def _incidents(m: Matrix, context: Any) -> int:
    return await m.count(Incident)


async def _overrides(m: Matrix, context: Any) -> int:
    return await m.count(RotationOverride)


async def _p1(m: Matrix) -> str:
    return await m.incident("P1")


async def _closable(m: Matrix) -> str:
    """Resolved, with its checklist done: an action item, and the runbooks answered."""
    channel = await m.resolved()
    said = await m.run(
        "admin", channel, "followup", "add", action="Matrix item", owner=m.ids["none"], due="+3d"
    )
    assert "Added" in said, said
    incident = await m.of(channel)
    admin = Actor(m.ids["admin"], frozenset({"incident-admin"}))
    await m.bot.services.follow_up.closeout.answer(incident.id, "runbooks-clear", admin)
    return channel


async def _item(m: Matrix) -> dict[str, str]:
    channel = await m.incident()
    said = await m.run(
        "admin", channel, "followup", "add", action="Matrix item", owner=m.ids["none"], due="+3d"
    )
    assert "Added" in said, said
    from storage import follow_up as queries

    incident = await m.of(channel)
    async with m.bot.services.sessions() as session:
        [item] = await queries.items_of(session, incident.id)
    return {"channel": channel, "item": str(item.id)}


async def _finish(m: Matrix, kind: str, context: dict[str, str]) -> str:
    return await m.run(kind, context["channel"], "followup", "done", id=int(context["item"]))


async def _item_state(m: Matrix, context: dict[str, str]) -> str:
    return await m.run("admin", context["channel"], "followup", "list")


async def _asked(m: Matrix) -> dict[str, str]:
    """A resolved incident whose refused close posted the close-out questions."""
    channel = await m.resolved()
    said = await m.run("admin", channel, "incident", "close")
    assert said.startswith("Not closed"), said

    def question(message: dict[str, Any]) -> bool:
        return any(
            c.get("custom_id", "").endswith(":runbooks-clear")
            for row in message["components"]
            for c in row["components"]
        )

    message = await m.control.wait_for_message(channel, question, what="the close-out questions")
    incident = await m.of(channel)
    return {
        "channel": channel,
        "message": message["id"],
        "custom_id": f"followup:check:{incident.id}:runbooks-clear",
    }


async def _answer(m: Matrix, kind: str, context: dict[str, str]) -> str:
    answer = await m.control.press(
        m.ids[kind], context["channel"], context["message"], context["custom_id"]
    )
    return text_of(answer)


async def _runbooks(m: Matrix, context: dict[str, str]) -> Any:
    from storage import follow_up as queries

    incident = await m.of(context["channel"])
    async with m.bot.services.sessions() as session:
        row = await queries.find_closeout(session, incident.id)
        return row.runbooks if row else None


async def _x_draft(m: Matrix) -> dict[str, str]:
    channel = await m.incident("P0")

    def approval(message: dict[str, Any]) -> bool:
        return any("X post" in (e.get("title") or "") for e in message["embeds"])

    message = await m.control.wait_for_message(channel, approval, what="the X draft")
    return {"channel": channel, "message": message["id"]}


async def _approve(m: Matrix, kind: str, context: dict[str, str]) -> str:
    """A ✅ on the draft; what came of it: the refusal recorded, or the draft approved."""
    user = m.ids[kind]
    recorded = len(await m.refusals())
    await m.control.react(user, context["channel"], context["message"], "✅")
    if kind == "bot":
        # The bot's own ✅ is no one's approval: ignored. A refused ✅ after it shows that
        # the bot has seen both; nothing may have come of the bot's.
        await m.control.react(m.ids["none"], context["channel"], context["message"], "✅")

    async def outcome() -> str | None:
        new = [r for r in (await m.refusals())[recorded:] if r.user_id == user]
        if new:
            return new[0].reason
        if (await _approval(m, context)) is not None:
            return "approved"
        if kind == "bot" and len(await m.refusals()) > recorded:
            return IGNORED
        return None

    said: str = await m.control.wait_for(outcome, what=f"{kind}'s ✅ handled")
    return said


async def _press_approve(m: Matrix, kind: str, context: dict[str, str]) -> str:
    message = next(
        m for m in await m.control.messages(context["channel"]) if m["id"] == context["message"]
    )
    [custom_id] = [
        c["custom_id"]
        for row in message["components"]
        for c in row["components"]
        if c.get("label") == "Approve"
    ]
    answer = await m.control.press(m.ids[kind], context["channel"], context["message"], custom_id)
    return text_of(answer)


async def _approval(m: Matrix, context: dict[str, str]) -> Any:
    from storage.communicate import post_by_approval_message

    async with m.bot.services.sessions() as session:
        post = await post_by_approval_message(session, context["message"])
        return post.approved_by if post else None


CASES: dict[str, Case] = {
    "declare": Case(_declare, _general, _incidents, "Declared P2"),
    "acknowledge": Case(_in("incident", "ack"), Matrix.incident, _state, "acknowledged"),
    "change severity": Case(
        _in("incident", "severity", level="P3"),
        Matrix.incident,
        _state,
        "Severity changed from P2 to **P3**",
    ),
    "hand over": Case(
        _in("incident", "commander", member=lambda m: m.ids["none"]),
        Matrix.incident,
        _state,
        "is now the incident commander",
    ),
    "mitigated": Case(_in("incident", "mitigated"), Matrix.incident, _state, "Mitigated, by"),
    "resolve": Case(_in("incident", "resolve"), Matrix.incident, _state, "Resolved after"),
    "reopen": Case(_in("incident", "reopen"), Matrix.resolved, _state, "Reopened by"),
    "post update": Case(
        _in("incident", "update", text="Matrix: still looking"),
        Matrix.incident,
        _state,
        "Status update posted",
    ),
    "close": Case(_in("incident", "close"), _closable, _state, "Closed by"),
    "close with override": Case(
        _in("incident", "close", reason="Matrix: closing with items missing"),
        Matrix.resolved,
        _state,
        "Closed by override",
    ),
    "approve comms": Case(_approve, _x_draft, _approval, "approved"),
    "approve comms (button)": Case(_press_approve, _x_draft, _approval, "approved the post to X"),
    "override on-call": Case(
        _in("oncall", "override", member=lambda m: m.ids["none"], starts="now", ends="+1h"),
        _general,
        _overrides,
        "on call from",
    ),
    "swap on-call": Case(_in("oncall", "swap"), _general, _overrides, "Swapped"),
    "register signer": Case(
        _in("signer", "register", address=ADDRESS), _general, _nothing, "Sign this message"
    ),
    "remove signer": Case(
        _in("signer", "remove", member=lambda m: m.ids["signer"]), _general, _nothing
    ),
    "publish postmortem": Case(_in("postmortem", "publish"), Matrix.incident, _state),
    "hotfix": Case(_in("mitigate", "hotfix"), _p1, _state),
    "deployed": Case(_in("mitigate", "deployed", url="https://app.example.org"), _p1, _state),
    "ticket": Case(_in("mitigate", "ticket"), Matrix.incident, _state),
    "add action item": Case(
        _in("followup", "add", action="Matrix item", owner=lambda m: m.ids["none"], due="+3d"),
        Matrix.incident,
        _state,
        "Added",
    ),
    "finish action item": Case(_finish, _item, _item_state, "Done:"),
    "answer close-out": Case(_answer, _asked, _runbooks),
}


def test_every_row_without_a_chain_has_a_case() -> None:
    assert sorted(CASES) == sorted(row.action for row in ROWS if not row.chain)


@pytest.mark.parametrize("action", list(CASES))
async def test_action_is_allowed_or_refused_as_configured(matrix: Matrix, action: str) -> None:
    await check_row(matrix, BY_ACTION[action], CASES[action])


async def test_a_refusal_is_recorded_once_with_who_what_where_and_why(matrix: Matrix) -> None:
    channel = await matrix.incident()
    before = await matrix.state(channel)
    said = await matrix.run("none", channel, "incident", "resolve")
    [row] = await matrix.refusals()
    incident = await matrix.of(channel)
    assert (row.user_id, row.action, row.reason) == (matrix.ids["none"], "/incident resolve", said)
    assert (row.channel_id, row.incident_id) == (channel, incident.id)
    assert await matrix.state(channel) == before
