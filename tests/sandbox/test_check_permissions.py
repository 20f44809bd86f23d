"""check-config's permission check against the world, over REST: each gap named, and where."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from bot.adapters.discord_check import permission_gaps
from bot.adapters.discord_permissions import invite_url, required_permissions
from sandbox.discord import permissions as perms
from sandbox.seed import BOT_PERMISSIONS

from .conftest import Control, RecordingBot

CONFIG: Any = SimpleNamespace(
    discord=SimpleNamespace(
        incidents_category="Incidents",
        ops_alerts_channel="ops-alerts",
        admin_role="incident-admin",
        comms_role="comms",
    )
)


def _bot_role(control: Control) -> Any:
    return next(r for r in control.world.discord.state.the_guild.roles.values() if r.bot_id)


async def _gaps(bot: RecordingBot, control: Control) -> list[str]:
    guild = await bot.fetch_guild(int(control.world.guild_id))
    return await permission_gaps(bot, guild, CONFIG)


def test_the_readmes_permissions_are_the_seeded_bot_roles_and_the_invite_asks_for_them():
    assert required_permissions().value == BOT_PERMISSIONS
    url = invite_url(123)
    assert f"permissions={BOT_PERMISSIONS}" in url and "scope=bot+applications.commands" in url


async def test_the_seeded_world_has_no_gap(bot, control: Control):
    assert await _gaps(bot, control) == []


async def test_a_permission_the_role_lacks_is_named_with_the_invite(bot, control: Control):
    role = _bot_role(control)
    control.world.discord.state.edit_role(role, permissions=role.permissions & ~perms.PIN_MESSAGES)
    (gap,) = await _gaps(bot, control)
    assert "Pin Messages in the server" in gap and "oauth2/authorize" in gap


async def test_an_overwrite_taking_a_permission_away_is_named_with_its_channel(
    bot, control: Control
):
    status, _ = await control.request(
        "PUT",
        f"/_sandbox/channels/ops-alerts/permissions/{_bot_role(control).id}",
        json={"type": 0, "deny": str(perms.EMBED_LINKS)},
    )
    assert status == 200
    (gap,) = await _gaps(bot, control)
    assert gap.startswith("discord.ops_alerts_channel:") and "Embed Links in #ops-alerts" in gap


async def test_a_paged_role_nobody_can_be_notified_of_is_named(bot, control: Control):
    role = _bot_role(control)
    state = control.world.discord.state
    state.edit_role(role, permissions=role.permissions & ~perms.MENTION_EVERYONE)
    gaps = await _gaps(bot, control)
    assert any("Mention Everyone in the server" in g for g in gaps)
    assert any(
        g.startswith("discord.admin_role: `incident-admin` is not mentionable") for g in gaps
    )
    state.edit_role(state.find_role("incident-admin"), mentionable=True)
    state.edit_role(state.find_role("comms"), mentionable=True)
    gaps = await _gaps(bot, control)
    assert not any("not mentionable" in g for g in gaps)


def test_the_readme_names_the_permissions_integer_and_pin_messages():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert f"permissions={required_permissions().value}&scope=bot+applications.commands" in readme
    assert "**Pin Messages**" in readme and "Mention Everyone" in readme
