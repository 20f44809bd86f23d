"""Interactions: building INTERACTION_CREATE from synced commands, and the bot's answers to them.

The control API creates an interaction and waits on its record; the REST routes
(callback, follow-ups, @original) append to the record's ``responses``.
The options of a command are built in command_options.py, the bot's answers recorded in
interaction_answers.py, the record itself is in interaction_model.py.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

from .command_options import CommandOptions
from .interaction_answers import Answers
from .interaction_model import (
    APPLICATION_COMMAND,
    ATTACHMENT_SIZE_LIMIT,
    AUTOCOMPLETE,
    CALLBACK_DEADLINE_S,
    DEFERRED_UPDATE,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    TOKEN_LIFETIME_S,
    ControlError,
    Interaction,
    response_view,
)
from .model import Channel, Message, User
from .state import DiscordState


class Interactions(CommandOptions, Answers):
    """Every interaction the world created, by id and by token."""

    def __init__(self, state: DiscordState) -> None:
        self.state = state
        self.by_id: dict[int, Interaction] = {}
        self.by_token: dict[str, Interaction] = {}

    # ------------------------------------------------------------------ creation
    def _base(self, kind: int, user: User, channel: Channel, data: dict[str, Any]) -> Interaction:
        state = self.state
        guild = state.the_guild
        interaction_id = state.ids.next()
        token = f"aW50ZXJhY3Rpb24{interaction_id}{secrets.token_urlsafe(48)}"
        channel_body = {
            **channel.payload(),
            "permissions": str(state.permissions(user.id, channel)),
        }
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(state.application_id),
            "type": kind,
            "data": data,
            "guild_id": str(guild.id),
            "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
            "channel_id": str(channel.id),
            "channel": channel_body,
            "member": state.member_payload(user.id),
            "token": token,
            "version": 1,
            "app_permissions": str(
                state.permissions(state.bot_user.id if state.bot_user else 0, channel)
            ),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        }
        interaction = Interaction(
            id=interaction_id,
            token=token,
            type=kind,
            user_id=user.id,
            channel_id=channel.id,
            payload=payload,
        )
        self.by_id[interaction.id] = interaction
        self.by_token[token] = interaction
        return interaction

    def _dispatch(self, interaction: Interaction) -> Interaction:
        interaction.created = time.monotonic()
        self.state.dispatch("INTERACTION_CREATE", interaction.payload)
        return interaction

    def run_command(
        self,
        user: User,
        channel: Channel,
        name: str,
        subcommand: str | None,
        options: dict[str, Any],
    ) -> Interaction:
        command = self.find_command(name)
        built, resolved = self._build_options(command, subcommand, options or {})
        data = _command_data(command, built)
        if any(resolved.values()):
            data["resolved"] = {k: v for k, v in resolved.items() if v}
        return self._dispatch(self._base(APPLICATION_COMMAND, user, channel, data))

    def run_autocomplete(
        self,
        user: User,
        channel: Channel,
        name: str,
        subcommand: str | None,
        options: dict[str, Any],
        focused: str,
    ) -> Interaction:
        """An autocomplete interaction (type 4) for the ``focused`` option, as Discord's
        client sends one while the person types."""
        command = self.find_command(name)
        if focused not in options:
            raise ControlError(400, f"focused must name one of the options given ({focused!r})")
        built, _ = self._build_options(command, subcommand, options, focused=focused)
        data = _command_data(command, built)
        return self._dispatch(self._base(AUTOCOMPLETE, user, channel, data))

    def press_component(
        self,
        user: User,
        channel: Channel,
        message: Message,
        custom_id: str,
        values: list[str] | None,
    ) -> Interaction:
        component = _find_component(message.components, custom_id)
        if component is None:
            raise ControlError(
                400, f"message {message.id} has no component with custom_id {custom_id!r}"
            )
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component.get("type", 2)}
        if component.get("type", 2) != 2:
            data["values"] = [str(v) for v in values or []]
            data["resolved"] = {}
        interaction = self._base(MESSAGE_COMPONENT, user, channel, data)
        interaction.payload["message"] = self.state.message_payload(message)
        interaction.component_message_id = message.id
        return self._dispatch(interaction)

    def submit_modal(
        self, user: User, channel: Channel, custom_id: str, fields: dict[str, Any]
    ) -> Interaction:
        opener = next(
            (
                i
                for i in reversed(self.by_id.values())
                if i.modal is not None
                and i.modal.get("custom_id") == custom_id
                and i.user_id == user.id
            ),
            None,
        ) or next(
            (
                i
                for i in reversed(self.by_id.values())
                if i.modal is not None and i.modal.get("custom_id") == custom_id
            ),
            None,
        )
        layout = (opener.modal or {}).get("components") if opener else None
        components = _modal_answer(layout, fields)
        data = {"custom_id": custom_id, "components": components, "resolved": {}}
        interaction = self._base(MODAL_SUBMIT, user, channel, data)
        if opener is not None and opener.component_message_id is not None:
            message = self.state.messages.get(opener.component_message_id)
            if message is not None:
                interaction.payload["message"] = self.state.message_payload(message)
                interaction.component_message_id = message.id
        return self._dispatch(interaction)

    # ------------------------------------------------------------------ waiting
    async def wait_answer(self, interaction: Interaction, timeout: float) -> bool:
        """Wait until the bot answered (a defer counts once something follows it)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not interaction.answered():
            if interaction.responses and interaction.responses[0]["type"] == DEFERRED_UPDATE:
                # A deferred update may stay silent: give it a short grace, not the full wait.
                deadline = min(deadline, interaction.acked_at + 2.0)
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            interaction.changed.clear()
            try:
                await asyncio.wait_for(interaction.changed.wait(), remaining)
            except TimeoutError:
                return interaction.answered()
        return True


def _command_data(command: dict[str, Any], options: list[dict[str, Any]]) -> dict[str, Any]:
    """An interaction's ``data`` for a chat command (a guild command names its guild)."""
    data: dict[str, Any] = {
        "id": str(command["id"]),
        "name": command["name"],
        "type": command.get("type", 1),
        "options": options,
    }
    if command.get("guild_id"):
        data["guild_id"] = str(command["guild_id"])
    return data


def _find_component(components: list[dict[str, Any]], custom_id: str) -> dict[str, Any] | None:
    for component in components:
        if component.get("custom_id") == custom_id:
            return component
        for key in ("components", "component", "accessory"):
            inner = component.get(key)
            if isinstance(inner, dict):
                inner = [inner]
            if isinstance(inner, list):
                found = _find_component(inner, custom_id)
                if found is not None:
                    return found
    return None


def _modal_answer(
    layout: list[dict[str, Any]] | None, fields: dict[str, Any]
) -> list[dict[str, Any]]:
    """The submitted components, shaped like the modal the bot opened (rows or labels)."""

    def answer(component: dict[str, Any]) -> dict[str, Any]:
        value = fields.get(component.get("custom_id"), "")
        body = {"type": component.get("type", 4), "custom_id": component.get("custom_id")}
        if component.get("id") is not None:
            body["id"] = component["id"]
        if body["type"] == 4:
            body["value"] = str(value)
        else:
            body["values"] = [str(v) for v in (value if isinstance(value, list) else [value])]
        return body

    if not layout:
        return [
            {"type": 1, "components": [{"type": 4, "custom_id": cid, "value": str(v)}]}
            for cid, v in fields.items()
        ]
    result = []
    for top in layout:
        if top.get("type") == 1:
            result.append(
                {"type": 1, "components": [answer(c) for c in top.get("components") or []]}
            )
        elif top.get("type") == 18 and isinstance(top.get("component"), dict):
            label: dict[str, Any] = {"type": 18, "component": answer(top["component"])}
            if top.get("id") is not None:
                label["id"] = top["id"]
            result.append(label)
        elif top.get("custom_id"):
            result.append(answer(top))
        elif top.get("id") is not None:
            result.append({"type": top.get("type"), "id": top["id"]})
    return result


__all__ = [
    "ATTACHMENT_SIZE_LIMIT",
    "CALLBACK_DEADLINE_S",
    "TOKEN_LIFETIME_S",
    "ControlError",
    "Interaction",
    "Interactions",
    "response_view",
]
