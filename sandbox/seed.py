"""The default world: guild "Atrium", its roles, people and channels."""

from __future__ import annotations

from dataclasses import dataclass

from .discord import permissions as perms
from .discord.model import MANAGER_PERMISSIONS
from .discord.state import DiscordState

GUILD_NAME = "Atrium"
ROLES = ("incident-admin", "oncall", "multisig-signer", "comms")
ROLE_PERMISSIONS = {"incident-admin": MANAGER_PERMISSIONS}
# Exactly what the README asks the bot's invite for (not Administrator): a test holds the
# two together.
BOT_PERMISSIONS = (
    perms.VIEW_CHANNEL
    | perms.MANAGE_CHANNELS
    | perms.MANAGE_ROLES
    | perms.SEND_MESSAGES
    | perms.EMBED_LINKS
    | perms.READ_MESSAGE_HISTORY
    | perms.MANAGE_MESSAGES
    | perms.PIN_MESSAGES
    | perms.MENTION_EVERYONE
)


@dataclass(frozen=True)
class Person:
    username: str
    display_name: str
    roles: tuple[str, ...]


PEOPLE = (
    Person("alice", "Alice Moreau", ("incident-admin", "oncall")),
    Person("bob", "Bob Okafor", ("oncall", "multisig-signer")),
    Person("carol", "Carol Lindqvist", ("oncall", "multisig-signer")),
    Person("dave", "Dave Nakamura", ("multisig-signer", "comms")),
    Person("erin", "Erin Walsh", ("comms",)),
    Person("frank", "Frank Castillo", ()),
)
BOT_USERNAME = "Atrium Incident Bot"
CHANNELS = (("ops-alerts", 0, "Alerts from monitoring land here."), ("general", 0, None))
CATEGORIES = ("Incidents",)


def seed_default_world(state: DiscordState) -> None:
    """Fill an empty state with the default guild (ids are fresh snowflakes every time)."""
    owner = state.add_user("atrium-owner", global_name="Atrium Owner")
    bot = state.add_user(BOT_USERNAME, bot=True)
    state.bot_user = bot
    state.owner = owner
    state.application_id = bot.id  # as for every application created since 2020
    state.application_name = BOT_USERNAME
    state.create_guild(GUILD_NAME, owner)
    roles = {name: state.add_role(name, ROLE_PERMISSIONS.get(name, 0)) for name in ROLES}
    bot_role = state.add_role(BOT_USERNAME, BOT_PERMISSIONS, managed=True, bot_id=bot.id)
    state.add_member(owner, [])
    state.add_member(bot, [bot_role])
    for person in PEOPLE:
        user = state.add_user(person.username, global_name=person.display_name)
        state.add_member(user, [roles[name] for name in person.roles])
    for name, channel_type, topic in CHANNELS:
        state.create_channel({"name": name, "type": channel_type, "topic": topic})
    for name in CATEGORIES:
        state.create_channel({"name": name, "type": 4})
