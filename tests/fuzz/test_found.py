"""Defects the fuzzers found, each pinned by the smallest example they reported."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine.processors import str_to_datetime

from bot.mitigate.deploy_hook import DeployWebhook
from storage.alerts.writes import db_time
from tests.e2e.helpers import text_of

SECRET = "fuzz-secret"


@pytest.mark.parametrize(
    "deployment_id, status_id",
    [
        ("Infinity", "1"),  # json.loads reads it as inf: int(inf) raised OverflowError (500)
        ("1", "-Infinity"),
        ("1e300", "1"),  # int(1e300) is no GitHub id, and no 64-bit integer column holds it
        (str(2**64), "1"),
        ("1", "0.5"),  # int(0.5) was 0: a float is no id
        ("true", "1"),
        ("0", "1"),
    ],
)
async def test_a_deployment_status_with_an_impossible_id_is_a_400_not_a_500(
    deployment_id: str, status_id: str
) -> None:
    hook = DeployWebhook(lambda: [SECRET], None, "atrium/atrium")  # type: ignore[arg-type]
    app = web.Application()
    hook.mount(app)
    body = (
        f'{{"deployment": {{"id": {deployment_id}, "ref": "hotfix/x"}}, '
        f'"deployment_status": {{"id": {status_id}, "state": "success"}}, '
        '"repository": {"full_name": "atrium/atrium"}}'
    ).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-GitHub-Event": "deployment_status", "X-Hub-Signature-256": signature}
    async with TestClient(TestServer(app)) as client:
        response = await client.post("/github/webhook", data=body, headers=headers)
        answer: Any = json.loads(await response.text())
    assert response.status == 400, answer
    assert "id" in answer["error"], answer


@pytest.mark.parametrize(
    "moment",
    [
        datetime(200, 1, 3, 23, 11, 35, 4469, tzinfo=UTC),  # the fuzzer's alert startsAt
        datetime(2, 1, 1, tzinfo=UTC),
        datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2026, 12, 2, 5, 0, tzinfo=UTC),
    ],
)
def test_an_alert_time_before_year_1000_is_stored_as_the_orm_reads_it(moment: datetime) -> None:
    """strftime's %Y wrote year 200 as '200-…', which the ORM cannot read: the worker's
    every round then failed on that row, and no alert after it opened an incident."""
    stored = db_time(moment)
    assert stored is not None
    assert str_to_datetime(stored) == moment.replace(tzinfo=None)


async def test_a_refusal_quoting_a_long_value_is_still_answered(bot: Any, control: Any) -> None:
    """A 3,000-character severity: the refusal quoted it whole, Discord refused an answer
    over 2,000 characters, and the member was told nothing (the command fuzzer's find)."""
    alice = await control.user_id("alice")
    general = await control.channel_id("general")
    answer = await control.command(
        alice, general, "incident", "declare", title="Long severity", severity="x" * 3000
    )
    said = text_of(answer)
    assert not answer["timed_out"], answer
    assert "is not a severity here" in said and len(said) <= 2000, said


async def test_any_error_answer_is_cut_to_what_discord_accepts() -> None:
    """The one error handler's last guard: whatever a message quotes, the member is told."""
    from types import SimpleNamespace

    from bot.client import send_ephemeral

    sent: list[str] = []

    async def send_message(text: str, ephemeral: bool) -> None:
        sent.append(text)

    response = SimpleNamespace(is_done=lambda: False, send_message=send_message)
    await send_ephemeral(SimpleNamespace(response=response), "y" * 5000)  # type: ignore[arg-type]
    [text] = sent
    assert len(text) == 2000 and text.endswith("…")
