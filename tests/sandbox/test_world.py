"""The default world: who is in it, what describe() reports, and the seeded ops repository."""

from __future__ import annotations

import itertools
import subprocess
from datetime import datetime, timedelta

from sandbox.ops_repo import ROTATION_PATH, rotation_markdown
from sandbox.world import World, WorldOptions

from .conftest import Control

CONTRACT_KEYS = {
    "guild_id",
    "bot_user_id",
    "users",
    "roles",
    "channels",
    "webhook",
    "chain",
    "ops_repo",
    "started_at",
}


async def test_describe_reports_every_contract_key(control: Control, world: World):
    described = await control.get("/_sandbox/world")
    assert CONTRACT_KEYS <= set(described)
    assert described == world.describe()
    assert described["chain"] is None
    assert described["guild_id"] == world.guild_id and described["bot_user_id"] == world.bot_user_id
    assert set(described["webhook"]) == {"base_url", "bearer_token", "hmac_secret"}
    assert described["webhook"]["bearer_token"] == world.webhook_bearer_token
    assert datetime.fromisoformat(described["started_at"]).utcoffset() == timedelta(0)


async def test_the_default_world_has_the_procedures_roles_people_and_channels(world: World):
    described = world.describe()
    assert {r["name"] for r in described["roles"]} == {
        "incident-admin",
        "oncall",
        "multisig-signer",
        "comms",
    }
    people = {u["name"]: set(u["roles"]) for u in described["users"]}
    assert len(people) >= 5 and world.bot_user_id not in {u["id"] for u in described["users"]}
    assert sum("multisig-signer" in roles for roles in people.values()) == 3
    assert people["alice"] == {"incident-admin", "oncall"}
    channels = {c["name"]: c["type"] for c in described["channels"]}
    assert channels["ops-alerts"] == 0 and channels["Incidents"] == 4


async def test_each_world_has_its_own_secrets(tmp_path):
    first = World(WorldOptions(data_dir=tmp_path / "a", port=0))
    second = World(WorldOptions(data_dir=tmp_path / "b", port=0))
    assert first.bot_token != second.bot_token
    assert first.webhook_hmac_secret != second.webhook_hmac_secret


def _git(repo, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


async def test_the_ops_repo_is_a_bare_git_repo_with_the_rotation_on_main(world: World):
    repo = world.ops_repo_path
    assert _git(repo, "rev-parse", "--is-bare-repository").strip() == "true"
    assert _git(repo, "rev-list", "--count", "main").strip() == "1"
    rotation = _git(repo, "show", f"main:{ROTATION_PATH}")
    assert rotation.startswith("# On-call rotation\n\nTime zone: UTC. Hand-over at 09:00.\n")
    assert "| Start | End | Primary | Secondary |\n|---|---|---|---|\n" in rotation
    names = {u["name"] for u in world.describe()["users"] if "oncall" in u["roles"]}
    rows = [line.split(" | ") for line in rotation.splitlines() if line.startswith("| 20")]
    assert {row[2].lstrip("@") for row in rows} == names


def test_the_rotation_is_contiguous_weekly_shifts_around_the_start():
    start = datetime.fromisoformat("2026-11-27T13:00+00:00")
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in rotation_markdown(["alice", "bob", "carol"], start).splitlines()
        if line.startswith("| 20")
    ]
    shifts = [(datetime.fromisoformat(r[0]), datetime.fromisoformat(r[1])) for r in rows]
    assert rows[0][0] == "2026-10-26T09:00+00:00"
    assert all(end - begin == timedelta(weeks=1) for begin, end in shifts)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(shifts))
    assert shifts[0][0] <= start - timedelta(weeks=4) and shifts[-1][1] >= start + timedelta(
        weeks=12
    )
    assert [r[2:] for r in rows[:4]] == [
        ["@alice", "@bob"],
        ["@bob", "@carol"],
        ["@carol", "@alice"],
        ["@alice", "@bob"],
    ]
