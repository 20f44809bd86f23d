"""Done when: a P1 from an alert to a published incidents/YYYY-MM-DD-<slug>.md in the
sandbox's ops repository whose timeline lists, with the right times, the alert's start,
the commander, the root-cause message a responder marked, the mitigation and the
restoration; a restart in the middle loses no message; only the commander or
incident-admin may publish; publishing again updates the file in a new commit."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from sandbox.alerts import sample_alertmanager_payload
from storage import postmortem as queries
from tests.e2e.helpers import find_channel, text_of
from tests.postmortem.helpers import OVERLAY, kept, wait_ids


@pytest.fixture
def overlay():
    return {
        **OVERLAY,
        "alerts": {"open_every": "50ms", "digest_every": "100ms", "notes_every": "100ms"},
    }


def at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def git(repo: str, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", repo, *args], check=True, capture_output=True, text=True
    ).stdout


async def test_a_p1_from_an_alert_to_a_published_postmortem(bot, control):
    started = (datetime.now(UTC) - timedelta(minutes=12)).replace(microsecond=0)
    fired = await control.request(
        "POST", "alerts", json={"payload": sample_alertmanager_payload(started)}
    )
    assert fired["status"] in (200, 202)
    channel = (
        await control.wait_for(
            lambda: find_channel(control, "incident-"), what="the alert's channel"
        )
    )["id"]
    alice, bob, carol, frank = [
        await control.user_id(n) for n in ("alice", "bob", "carol", "frank")
    ]
    await control.wait_for(lambda: kept(bot, channel), what="the incident declared")
    await control.command(alice, channel, "incident", "ack")

    cause = await control.post(bob, channel, "Root cause: the bridge relayer replayed old proofs")
    await wait_ids(bot, control, channel, [cause["id"]])
    await control.react(carol, channel, cause["id"], "🔍")

    # The bot goes away mid-incident; what is said meanwhile is backfilled.
    await bot.stop()
    paused = await control.post(carol, channel, "Paused the bridge contract (tx 0xfeed)")
    await bot.start()
    await wait_ids(bot, control, channel, [paused["id"]])
    await control.react(alice, channel, paused["id"], "🩹")
    restored = await control.post(bob, channel, "Withdrawals flowing again, error rate at baseline")
    await wait_ids(bot, control, channel, [restored["id"]])
    await control.react(alice, channel, restored["id"], "🟢")
    all_ids = {int(m["id"]) for m in await control.messages(channel)}
    rows = await kept(bot, channel)
    assert len({r.message_id for r in rows}) == len(rows)  # none twice
    assert {r.message_id for r in rows if r.deleted_at is None} == all_ids

    await control.command(
        alice, channel, "postmortem", "impact", text="Withdrawals failed for 20 minutes"
    )
    await control.command(
        alice,
        channel,
        "postmortem",
        "why",
        text="Why did withdrawals fail? Old proofs were replayed.",
    )
    await control.command(alice, channel, "incident", "resolve")

    refused = text_of(await control.command(frank, channel, "postmortem", "publish"))
    assert (
        refused
        == "Only the incident commander or members with the `incident-admin` role may publish the postmortem."
    )

    async def marked():
        events = await bot.services.postmortem.timeline.lines(
            (await bot.services.incidents.in_channel(channel)).id
        )
        kinds = {line.kind for line in events}
        return {"root_cause", "mitigation", "restored"} <= kinds

    await control.wait_for(marked, what="the three marks")
    answer = text_of(await control.command(alice, channel, "postmortem", "publish"))
    assert answer.startswith("Published `incidents/")
    path = answer.split("`")[1]
    repo = (await control.world())["ops_repo"]["path"]
    text = git(repo, "show", f"main:{path}")
    incident = await bot.services.incidents.in_channel(channel)
    day = incident.declared_at.strftime("%Y-%m-%d")
    assert path == f"incidents/{day}-{incident.slug}.md"

    moments = [started, incident.declared_at, at(cause["created_at"]), at(restored["created_at"])]
    fmt = "%H:%M" if len({m.date() for m in moments}) == 1 else "%Y-%m-%d %H:%M"

    def stamp(moment: datetime) -> str:
        return moment.astimezone(UTC).strftime(fmt)

    timeline = text.split("## Timeline\n", 1)[1].split("\n## ", 1)[0]
    assert f"- {stamp(started)}, Alert fired: BridgeOutflowAnomaly" in timeline
    assert (
        f"- {stamp(incident.declared_at)}, Incident commander assigned: @Alice Moreau" in timeline
    )
    assert (
        f"- {stamp(at(cause['created_at']))}, Root cause identified: Root cause: the bridge relayer "
        "replayed old proofs (Bob Okafor)" in timeline
    )
    assert (
        f"- {stamp(at(paused['created_at']))}, Mitigation applied: Paused the bridge contract"
        in timeline
    )
    assert (
        f"- {stamp(at(restored['created_at']))}, Service restored: Withdrawals flowing again"
        in timeline
    )
    assert (
        "**Duration:** " in text
        and "not yet known" not in text.split("**Duration:** ")[1].splitlines()[0]
    )
    assert "Time to detect (impact start to declaration): 12m" in text
    async with bot.services.sessions() as session:
        row = await queries.find_record(session, incident.id)
    assert row is not None and row.published_commit == git(repo, "rev-parse", "main").strip()

    # Publishing again updates the same file in a new commit.
    await control.command(
        alice, channel, "postmortem", "lesson", text="Reject proofs older than a day"
    )
    again = text_of(await control.command(alice, channel, "postmortem", "publish"))
    assert again.startswith(f"Updated `{path}`")
    assert "- Reject proofs older than a day" in git(repo, "show", f"main:{path}")
    subjects = git(repo, "log", "--format=%s", "main").splitlines()
    assert subjects[0].startswith("Update postmortem:") and subjects[1].startswith(
        "Add postmortem:"
    )
    # The transcript stays out of the repository.
    assert "transcript" not in git(repo, "ls-tree", "-r", "--name-only", "main")
