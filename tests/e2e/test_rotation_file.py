"""The rotation read from the ops repository's Markdown file, as the sandbox seeds it."""

from __future__ import annotations

import pytest

from bot.adapters.git import git
from tests.e2e.helpers import incident_channel_id, text_of


async def test_the_seeded_rotation_file_names_who_is_paged(bot, control):
    general = await control.channel_id("general")
    alice = await control.user_id("alice")
    now = text_of(await control.command(alice, general, "oncall", "now"))
    assert "primary <@" in now
    primary = now.split("primary <@")[1].split(">")[0]
    await control.command(
        alice, general, "incident", "declare", title="Seeded rotation", severity="P2"
    )
    channel = await incident_channel_id(control, "-seeded-rotation")
    kickoff = (await control.messages(channel))[0]
    assert f"<@{primary}>" in kickoff["content"]
    nxt = text_of(await control.command(alice, general, "oncall", "next"))
    assert "Next on call: primary <@" in nxt


async def test_an_edited_rotation_file_is_read_again(bot, control):
    checkout = bot.settings.resolve(bot.settings.config.ops_repo.checkout)
    rotation = checkout / "runbooks" / "on-call-rotation.md"
    rotation.write_text(
        "| Start | End | Primary | Secondary |\n|---|---|---|---|\n"
        "| 2020-01-01T00:00+00:00 | 2099-01-01T00:00+00:00 | @dave | @erin |\n"
    )
    general = await control.channel_id("general")
    dave = await control.user_id("dave")
    now = text_of(await control.command(dave, general, "oncall", "now"))
    assert f"primary <@{dave}>" in now


@pytest.fixture
def overlay():
    return {"ops_repo": {"pull_every": "300ms"}}


async def test_a_rotation_change_pushed_to_the_ops_repository_is_pulled_and_read(
    bot, control, world, tmp_path
):
    clone = tmp_path / "someone-elses-clone"
    who = ("-c", "user.name=Alice", "-c", "user.email=alice@example.com")
    await git(*who, "clone", "-q", str(world.ops_repo_path), str(clone))
    (clone / "runbooks" / "on-call-rotation.md").write_text(
        "| Start | End | Primary | Secondary |\n|---|---|---|---|\n"
        "| 2020-01-01T00:00+00:00 | 2099-01-01T00:00+00:00 | @erin | @frank |\n"
    )
    await git(*who, "commit", "-qam", "Erin covers", cwd=clone)
    await git(*who, "push", "-q", "origin", "HEAD:main", cwd=clone)
    general = await control.channel_id("general")
    erin = await control.user_id("erin")

    async def erin_on_call():
        return f"primary <@{erin}>" in text_of(
            await control.command(erin, general, "oncall", "now")
        )

    await control.wait_for(erin_on_call, timeout=10, what="the pushed rotation")
