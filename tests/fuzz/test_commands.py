"""Hypothesis against every slash command's options, through the control API
(``POST /_sandbox/commands``) as Discord's client would send them: values of the right and
the wrong type (the sandbox turns what a client could send into the declared type and
refuses the rest, as Discord does), members, strangers, the bot, unknown users, every kind
of channel, addresses with a wrong checksum, durations and dates people mistype.

Each example: a specific answer (never the bot's "Something went wrong"), in time; after
all of them no ERROR in the bot's log and no partial state."""

from __future__ import annotations

from typing import Any

import pytest
from discord import AppCommandOptionType, app_commands
from hypothesis import strategies as st

from sandbox.control_client import Control, ControlError
from tests.e2e.helpers import ALWAYS_ON_CALL, text_of
from tests.fuzz.helpers import consistent, hypothesize, paced, scalars, texts
from tests.mitigate.helpers import declare

UNKNOWN = "999999999999999999"  # no user, no channel
BROKEN = "Something went wrong on the bot's side"
CHECKSUMMED = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"
ADDRESSES = st.sampled_from(
    [
        CHECKSUMMED,
        CHECKSUMMED.lower(),
        CHECKSUMMED.replace("AAf5", "aaF5"),  # a wrong checksum
        "0x15d34aaf54267db7d7c367839aaf71a00a2c6a6",  # one digit short
        "15d34aaf54267db7d7c367839aaf71a00a2c6a65",  # no 0x
        "0x" + "0" * 40,
        "0x" + "g" * 40,
        "vitalik.eth",
    ]
)
WHEN = st.sampled_from(
    ["now", "+2h", "+8h", "-1h", "+0m", "+99999999d", "2026-02-30 09:00", "tomorrow", "friday",
     "next friday", "2026-12-03", "+3d", "+2w", "7d", "30d", "0d", "-5d", "1y", "12h"]
)  # fmt: skip
WORDS = st.sampled_from(["P0", "P1", "P2", "P3", "P9", "primary", "secondary", "https://x.invalid"])


def _string(parameter: app_commands.Parameter) -> st.SearchStrategy[Any]:
    return st.one_of(texts, ADDRESSES, WHEN, WORDS, scalars)


def _value(parameter: app_commands.Parameter, people: list[str]) -> st.SearchStrategy[Any]:
    if parameter.choices:
        return st.one_of(*[st.sampled_from([c.value for c in parameter.choices])] * 4, texts)
    kind = parameter.type
    if kind == AppCommandOptionType.string:
        return _string(parameter)
    if kind == AppCommandOptionType.integer:
        return st.one_of(st.integers(-5, 10**6), st.sampled_from(["7", "x", "1.5"]))
    if kind == AppCommandOptionType.number:
        return st.one_of(st.floats(-1e6, 1e6), texts)
    if kind == AppCommandOptionType.boolean:
        return st.one_of(st.booleans(), st.sampled_from(["yes", "maybe"]))
    if kind in (AppCommandOptionType.user, AppCommandOptionType.mentionable):
        return st.sampled_from([*people, UNKNOWN])
    return scalars


def _options(
    command: app_commands.Command[Any, ..., Any], people: list[str]
) -> st.SearchStrategy[dict[str, Any]]:
    required = {p.name: _value(p, people) for p in command.parameters if p.required}
    optional = {p.name: _value(p, people) for p in command.parameters if not p.required}
    options = st.fixed_dictionaries(required, optional=optional)
    # Sometimes what no client sends: a required option missing, an unknown one.
    return st.one_of(
        *[options] * 6,
        options.map(lambda o: dict(list(o.items())[1:])),
        options.map(lambda o: {**o, "bogus": 1}),
    )


def slash_commands(bot: Any) -> list[app_commands.Command[Any, ..., Any]]:
    return [c for c in bot.runtime.bot.tree.walk_commands() if isinstance(c, app_commands.Command)]


@pytest.fixture
def overlay() -> dict[str, Any]:
    from tests.mitigate.test_hotfix_e2e import fix_overlay

    return {**fix_overlay(), **ALWAYS_ON_CALL}


async def test_every_command_answers_every_option_specifically(
    bot: Any, control: Control, world: Any, errors: Any
) -> None:
    names = ("alice", "bob", "carol", "dave", "erin", "frank")
    people = [await control.user_id(n) for n in names]
    people.append(str((await control.world(refresh=True))["application_id"]))
    channels = [
        await declare(control, "Fuzz target", "P2"),
        await declare(control, "Fuzz bridge", "P0"),
        await declare(control, "Fuzz site", "P1"),
        await control.channel_id("general"),
        await control.channel_id("ops-alerts"),
    ]
    commands = slash_commands(bot)
    assert len(commands) > 30, [c.qualified_name for c in commands]
    examples = st.tuples(
        st.sampled_from(commands).flatmap(lambda c: st.tuples(st.just(c), _options(c, people))),
        st.sampled_from([*people, UNKNOWN]),
        st.sampled_from([*channels, UNKNOWN]),
    )
    seen: dict[str, int] = {}

    async def check(example: Any) -> None:
        (command, options), user, channel = example
        name, _, sub = command.qualified_name.partition(" ")
        await paced(world, control)
        body = {"user_id": user, "channel_id": channel, "name": name, "options": options}
        if sub:
            body["subcommand"] = sub
        try:
            # 5 s: Discord's 3 s deadline for the first answer, and a margin for a loaded box.
            answer = await control.request("POST", "commands", json={**body, "timeout": 5})
        except ControlError as refused:  # the sandbox refused it, as Discord would
            assert refused.status < 500, refused
            seen["refused by the sandbox"] = seen.get("refused by the sandbox", 0) + 1
            return
        said = text_of(answer)
        where = f"/{command.qualified_name} {options} by {user} in {channel}"
        assert not answer["timed_out"], f"{where}: no answer in time ({answer})"
        assert BROKEN not in said, f"{where}: {said}"
        assert said or any(r.get("embeds") for r in answer["responses"]), f"{where}: {answer}"
        seen["answered"] = seen.get("answered", 0) + 1

    await hypothesize(examples, check, examples=300)
    print("outcomes:", seen)
    assert seen.get("answered", 0) >= 30, seen
    await consistent(bot, control)
    assert not errors.lines(), errors.lines()
