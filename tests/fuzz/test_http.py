"""Hypothesis against every HTTP endpoint the running bot serves: the alert webhooks of
every format (``/alerts/alertmanager|grafana|generic``), the GitHub deploy hook
(``/github/webhook``), ``/healthz``, ``/metrics``, and paths and methods it does not serve.

Each example: an answer the route documents (never a 500), and afterwards no ERROR in the
bot's log and no partial state (every accepted notification handled, every incident with
its channel)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from hypothesis import strategies as st

from tests.e2e.conftest import HOST
from tests.fuzz.helpers import consistent, hypothesize, json_values, scalars, texts

# A small set of alert names: groups collide (a few incidents, not one per example), with a
# few that are hard to name a channel after.
NAMES = st.sampled_from(["DiskFull", "BridgeLag", "🔥🔥", "---", "a" * 300, "Ünïcode Alert", " "])
SEVERITIES = st.sampled_from(["critical", "error", "warning", "info", "CRITICAL", "", "bogus"])
TIMES = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(
        lambda d: d.replace(tzinfo=UTC).isoformat()
    ),
    st.sampled_from(["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-02-30T00:00:00Z"]),
    json_values,
)
LABELS = st.builds(
    lambda name, severity, extra: {"alertname": name, "severity": severity, **extra},
    NAMES,
    SEVERITIES,
    st.dictionaries(st.sampled_from(["service", "team", "chain", ""]), texts, max_size=2),
)


def _alert(grafana: bool) -> st.SearchStrategy[dict[str, Any]]:
    optional: dict[str, st.SearchStrategy[Any]] = {
        "endsAt": TIMES,
        "generatorURL": texts,
        "fingerprint": texts,
        "annotations": st.dictionaries(st.sampled_from(["summary", "description"]), texts),
    }
    if grafana:
        optional["values"] = st.dictionaries(texts, scalars, max_size=3)
    return st.fixed_dictionaries(
        {"status": st.sampled_from(["firing", "resolved"]), "labels": LABELS, "startsAt": TIMES},
        optional=optional,
    )


ALERTMANAGER = st.fixed_dictionaries(
    {
        "version": st.just("4"),
        "groupKey": NAMES,
        "status": st.sampled_from(["firing", "resolved"]),
        "alerts": st.lists(_alert(False), min_size=1, max_size=3),
    },
    optional={"truncatedAlerts": st.integers(-1, 2**64), "commonLabels": LABELS},
)
GRAFANA = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["firing", "resolved"]),
        "alerts": st.lists(_alert(True), min_size=1, max_size=3),
    },
    optional={"groupKey": NAMES, "orgId": st.integers(-(2**70), 2**70), "title": texts},
)
GENERIC = st.fixed_dictionaries(
    {"event_action": st.sampled_from(["trigger", "acknowledge", "resolve"])},
    optional={
        "dedup_key": NAMES,
        "payload": st.fixed_dictionaries(
            {"summary": NAMES, "source": texts, "severity": SEVERITIES},
            optional={"timestamp": TIMES, "custom_details": json_values},
        ),
    },
)
SHAPED = {"alertmanager": ALERTMANAGER, "grafana": GRAFANA, "generic": GENERIC}


def _mangled(payload: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[Any]:
    """The format's shape, or the shape with one field made anything, or anything at all."""
    replaced = st.tuples(payload, texts, json_values).map(lambda t: {**t[0], t[1]: t[2]})
    return st.one_of(payload, replaced, json_values)


def _body(value: Any) -> bytes:
    return json.dumps(value).encode()  # json.dumps writes Infinity, which Python reads back


BODIES = st.one_of(
    st.sampled_from(sorted(SHAPED)).flatmap(lambda s: st.tuples(st.just(s), _mangled(SHAPED[s]))),
).map(lambda t: (t[0], _body(t[1])))
RAW = st.tuples(
    st.sampled_from([*sorted(SHAPED), "unknown", "", "..%2f"]),
    st.one_of(st.binary(max_size=200), st.just(b'{"a":'), st.just(b"\xff\xfe{}")),
)
AUTH = st.sampled_from(["bearer", "hmac", "wrong", "none"])
CONTENT_TYPES = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "text/plain", "", "application/x"]
)
# Numbers JSON carries that a 64-bit integer column, or int(), does not.
EDGE_NUMBERS = st.sampled_from([float("inf"), -float("inf"), 1e300, 0.5, 2**63, 2**64, -1, 0])
ALERT_STATUSES = {202, 400, 401, 404, 413, 415, 422}


@pytest.fixture
def overlay() -> dict[str, Any]:
    from tests.mitigate.test_hotfix_e2e import fix_overlay

    return fix_overlay()  # the deploy hook on, as a team following its hotfixes has it


class Http:
    def __init__(self, world: Any, session: aiohttp.ClientSession) -> None:
        self.base = f"http://{HOST}:{world.webhook_port}"
        self.world, self.session = world, session

    async def call(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        async with self.session.request(
            method, self.base + path, data=body, headers=headers or {}
        ) as response:
            text = await response.text()
            try:
                answer = json.loads(text)
            except ValueError:
                answer = text
            return response.status, answer

    def auth(self, how: str, body: bytes) -> dict[str, str]:
        if how == "bearer":
            return {"Authorization": f"Bearer {self.world.webhook_bearer_token}"}
        if how == "hmac":
            secret = self.world.webhook_hmac_secret.encode()
            return {
                "X-Grafana-Alerting-Signature": hmac.new(secret, body, hashlib.sha256).hexdigest()
            }
        if how == "wrong":
            return {"Authorization": "Bearer not-the-token"}
        return {}


@pytest.fixture
async def http(world: Any) -> Any:
    async with aiohttp.ClientSession() as session:
        yield Http(world, session)


def _no_500(status: int, answer: Any, what: str) -> None:
    assert status < 500 or status == 503, f"{what}: {status} {answer}"


async def test_alert_webhooks_answer_every_body_without_an_error(bot, control, http, errors):
    seen: dict[int, int] = {}

    async def check(example: tuple[tuple[str, bytes], str, str]) -> None:
        (source, body), how, content_type = example
        headers = {**http.auth(how, body), "Content-Type": content_type}
        status, answer = await http.call("POST", f"/alerts/{source}", body, headers)
        _no_500(status, answer, f"POST /alerts/{source} {body[:200]!r}")
        seen[status] = seen.get(status, 0) + 1
        assert status in ALERT_STATUSES, (status, answer)
        if status == 202:
            assert how in ("bearer", "hmac"), answer
        else:
            assert isinstance(answer, dict) and answer.get("error"), answer

    examples = st.tuples(
        st.one_of(BODIES, RAW),
        st.one_of(st.just("bearer"), AUTH),
        st.one_of(st.just("application/json"), CONTENT_TYPES),
    )
    await hypothesize(examples, check, examples=250)
    print("answers:", seen)
    await consistent(bot, control)
    assert not errors.lines(), errors.lines()


async def _followed_hotfix(bot: Any, control: Any) -> str:
    """A P1 with its hotfix branch: a deployment of it is one the bot follows."""
    from sqlalchemy import select

    from storage.fixes import FixBranch
    from tests.mitigate.helpers import declare

    channel = await declare(control, "Fuzz hotfix", "P1")
    alice = await control.user_id("alice")
    await control.command(alice, channel, "mitigate", "hotfix")
    async with bot.services.sessions() as session:
        name = await session.scalar(select(FixBranch.name))
    assert name, "no hotfix branch was created"
    return str(name)


def _sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def test_the_deploy_hook_answers_every_event_without_an_error(bot, control, http, errors):
    secret = http.world.extra_secrets["INCIDENT_BOT_GITHUB_WEBHOOK_SECRETS"].split(",")[0]
    repository = bot.services.fixes.hotfixes.repository
    branch = await _followed_hotfix(bot, control)
    ids = st.one_of(st.integers(1, 10**6), EDGE_NUMBERS, scalars)
    deployment = st.fixed_dictionaries(
        {"id": ids, "ref": st.one_of(*[st.just(branch)] * 3, texts)},
        optional={"sha": texts, "environment": st.sampled_from(["production", "Production"])},
    )
    status = st.fixed_dictionaries(
        {"id": ids, "state": st.sampled_from(["success", "failure", "queued"]) | texts},
        optional={"environment_url": texts, "target_url": texts},
    )
    event = st.fixed_dictionaries(
        {
            "deployment": st.one_of(*[deployment] * 3, json_values),
            "deployment_status": st.one_of(*[status] * 3, json_values),
            "repository": st.one_of(*[st.just({"full_name": repository})] * 3, json_values),
        },
    )
    seen: dict[int, int] = {}

    async def check(example: tuple[Any, str, bool]) -> None:
        payload, kind, signed = example
        body = _body(payload)
        headers = {"X-GitHub-Event": kind, "Content-Type": "application/json"}
        if signed:
            headers["X-Hub-Signature-256"] = _sign(secret, body)
        code, answer = await http.call("POST", "/github/webhook", body, headers)
        _no_500(code, answer, f"POST /github/webhook {body[:200]!r}")
        assert code in (200, 202, 400, 401), (code, answer)
        seen[code] = seen.get(code, 0) + 1

    examples = st.tuples(
        st.one_of(*[event] * 4, json_values),
        st.sampled_from(["deployment_status"] * 4 + ["ping", "push", ""]),
        st.sampled_from([True, True, True, False]),
    )
    await hypothesize(examples, check, examples=100)
    print("answers:", seen)
    await consistent(bot, control)
    assert not errors.lines(), errors.lines()


async def test_any_path_and_method_is_answered_without_an_error(bot, control, http, errors):
    paths = st.one_of(
        st.sampled_from(["/healthz", "/metrics", "/alerts/", "/github/webhook", "/", "/%00"]),
        st.text(alphabet="abc/%.?=&é-", max_size=20).map(lambda p: "/" + p),
    )

    async def check(example: tuple[str, str]) -> None:
        method, path = example
        code, answer = await http.call(method, path)
        _no_500(code, answer, f"{method} {path}")

    await hypothesize(
        st.tuples(st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD"]), paths), check, 40
    )
    code, answer = await http.call("GET", "/healthz")
    assert code == 200, answer
    assert not errors.lines(), errors.lines()
