"""Interactions: building INTERACTION_CREATE from synced commands, and the bot's answers to them.

The control API creates an interaction and waits on its record; the REST routes
(callback, follow-ups, @original) append to the record's ``responses``.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from . import errors, limits
from .model import EPHEMERAL, LOADING, Attachment, Channel, Message, User
from .state import DiscordState, Upload

CALLBACK_DEADLINE_S = 3.0
TOKEN_LIFETIME_S = 15 * 60
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024

PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
PONG, CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 1, 4, 5, 6, 7
AUTOCOMPLETE_RESULT, MODAL = 8, 9


class ControlError(Exception):
    """A bad control-API request: answered ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Interaction:
    id: int
    token: str
    type: int
    user_id: int
    channel_id: int
    payload: dict[str, Any]
    created: float = field(default_factory=time.monotonic)
    ack_type: int | None = None
    acked_at: float = 0.0
    original_message_id: int | None = None
    component_message_id: int | None = None
    message_ids: set[int] = field(default_factory=set)
    responses: list[dict[str, Any]] = field(default_factory=list)
    modal: dict[str, Any] | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, response: dict[str, Any]) -> None:
        self.responses.append(response)
        self.changed.set()

    def answered(self) -> bool:
        """The bot's answer is complete: a reply, or a defer followed by something."""
        if not self.responses:
            return False
        if self.responses[0]["type"] in (DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE):
            return len(self.responses) >= 2
        return True


def response_view(response_type: int, source: str, message: Message | None) -> dict[str, Any]:
    view: dict[str, Any] = {"type": response_type, "source": source, "content": None, "embeds": []}
    view["ephemeral"] = bool(message and message.flags & EPHEMERAL)
    if message is not None:
        view.update(
            content=message.content,
            embeds=[dict(e) for e in message.embeds],
            components=list(message.components),
            message_id=str(message.id),
        )
    return view


class Interactions:
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
        channel_body = {**channel.payload(), "permissions": str(state.permissions(user.id))}
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
            "app_permissions": str(state.permissions(state.bot_user.id if state.bot_user else 0)),
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
        data: dict[str, Any] = {
            "id": str(command["id"]),
            "name": command["name"],
            "type": command.get("type", 1),
            "options": built,
        }
        if command.get("guild_id"):
            data["guild_id"] = str(command["guild_id"])
        if any(resolved.values()):
            data["resolved"] = {k: v for k, v in resolved.items() if v}
        return self._dispatch(self._base(APPLICATION_COMMAND, user, channel, data))

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

    def find_command(self, name: str) -> dict[str, Any]:
        guild_id = self.state.the_guild.id
        for scope in (guild_id, None):
            for command in self.state.commands.get(scope, []):
                if command["name"] == name and command.get("type", 1) == 1:
                    return command
        synced = sorted(
            c["name"] for scope in (guild_id, None) for c in self.state.commands.get(scope, [])
        )
        raise ControlError(
            400, f"no synced slash command named {name!r} (synced: {', '.join(synced) or 'none'})"
        )

    def _build_options(
        self, command: dict[str, Any], subcommand: str | None, given: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
        resolved: dict[str, dict[str, Any]] = {
            "users": {},
            "members": {},
            "roles": {},
            "channels": {},
            "attachments": {},
        }
        declared = command.get("options") or []
        nested = [o for o in declared if o.get("type") in (1, 2)]
        if not nested:
            if subcommand:
                raise ControlError(400, f"/{command['name']} has no subcommands")
            return self._values(command["name"], declared, given, resolved), resolved
        if not subcommand:
            names = ", ".join(o["name"] for o in nested)
            raise ControlError(400, f"/{command['name']} needs a subcommand ({names})")
        parts = subcommand.split()
        first = next((o for o in nested if o["name"] == parts[0]), None)
        if first is None or (first["type"] == 2) != (len(parts) == 2) or len(parts) > 2:
            raise ControlError(400, f"/{command['name']} has no subcommand {subcommand!r}")
        if first["type"] == 1:
            values = self._values(subcommand, first.get("options") or [], given, resolved)
            return [{"type": 1, "name": first["name"], "options": values}], resolved
        sub = next(
            (o for o in first.get("options") or [] if o["name"] == parts[1] and o.get("type") == 1),
            None,
        )
        if sub is None:
            raise ControlError(400, f"/{command['name']} has no subcommand {subcommand!r}")
        values = self._values(subcommand, sub.get("options") or [], given, resolved)
        inner = {"type": 1, "name": sub["name"], "options": values}
        return [{"type": 2, "name": first["name"], "options": [inner]}], resolved

    def _values(
        self,
        where: str,
        declared: list[dict[str, Any]],
        given: dict[str, Any],
        resolved: dict[str, dict[str, Any]],
    ) -> list[dict[str, Any]]:
        by_name = {o["name"]: o for o in declared}
        unknown = sorted(set(given) - set(by_name))
        if unknown:
            raise ControlError(
                400,
                f"{where}: unknown option(s) {', '.join(unknown)} (declared: {', '.join(by_name)})",
            )
        missing = [o["name"] for o in declared if o.get("required") and o["name"] not in given]
        if missing:
            raise ControlError(400, f"{where}: missing required option(s) {', '.join(missing)}")
        result = []
        for option in declared:  # in declared order, as a Discord client sends them
            if option["name"] not in given:
                continue
            value = self._convert(where, option, given[option["name"]], resolved)
            result.append({"type": option["type"], "name": option["name"], "value": value})
        return result

    def _convert(
        self, where: str, option: dict[str, Any], raw: Any, resolved: dict[str, dict[str, Any]]
    ) -> Any:
        kind = option["type"]
        name = option["name"]
        state = self.state
        try:
            if option.get("choices"):
                for choice in option["choices"]:
                    if str(raw) in (str(choice["value"]), choice["name"]):
                        return choice["value"]
                allowed = ", ".join(str(c["value"]) for c in option["choices"])
                raise ControlError(400, f"{where}: {name} must be one of {allowed}")
            if kind == 3:
                return str(raw)
            if kind == 4:
                return int(raw)
            if kind == 10:
                return float(raw)
            if kind == 5:
                if isinstance(raw, str):
                    if raw.lower() not in ("true", "false", "yes", "no", "1", "0"):
                        raise ValueError(raw)
                    return raw.lower() in ("true", "yes", "1")
                return bool(raw)
        except (TypeError, ValueError):
            raise ControlError(400, f"{where}: bad value {raw!r} for option {name}") from None
        if kind in (6, 9):
            user = state.find_user(raw)
            if user is not None:
                resolved["users"][str(user.id)] = user.payload()
                if user.id in state.the_guild.members:
                    resolved["members"][str(user.id)] = state.member_payload(
                        user.id, with_user=False
                    )
                return str(user.id)
            if kind == 6:
                raise ControlError(404, f"{where}: unknown user {raw!r} for option {name}")
        if kind in (8, 9):
            role = state.find_role(raw)
            if role is None:
                raise ControlError(404, f"{where}: unknown role {raw!r} for option {name}")
            resolved["roles"][str(role.id)] = role.payload()
            return str(role.id)
        if kind == 7:
            channel = state.find_channel(raw)
            if channel is None:
                raise ControlError(404, f"{where}: unknown channel {raw!r} for option {name}")
            body = {**channel.payload(), "permissions": str(state.permissions(state.bot_user.id))}
            resolved["channels"][str(channel.id)] = body
            return str(channel.id)
        if kind == 11:
            upload = (
                raw if isinstance(raw, dict) else {"filename": "attachment.txt", "text": str(raw)}
            )
            attachment_id = state.ids.next()
            filename = str(upload.get("filename") or "attachment.txt")
            attachment = Attachment(
                id=attachment_id,
                filename=filename,
                data=str(upload.get("text") or "").encode(),
                content_type="text/plain; charset=utf-8",
                url=f"{state.base_url}/attachments/{attachment_id}/{filename}",
            )
            state.loose_attachments[attachment_id] = attachment
            resolved["attachments"][str(attachment_id)] = attachment.payload()
            return str(attachment_id)
        raise ControlError(400, f"{where}: option {name} has an unsupported type {kind}")

    # ------------------------------------------------------------------ the bot's side
    def callback(
        self, interaction_id: str, token: str, body: dict[str, Any], uploads: list[Upload]
    ) -> dict[str, Any]:
        interaction = self.by_id.get(int(interaction_id)) if interaction_id.isdigit() else None
        if interaction is None or interaction.token != token:
            raise errors.unknown_interaction()
        if interaction.ack_type is not None:
            raise errors.already_acknowledged()
        if time.monotonic() - interaction.created > CALLBACK_DEADLINE_S:
            raise errors.unknown_interaction()
        kind = body.get("type")
        data = body.get("data") or {}
        allowed = {
            PING: {PONG},
            APPLICATION_COMMAND: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, MODAL},
            MESSAGE_COMPONENT: {
                CHANNEL_MESSAGE,
                DEFERRED_CHANNEL_MESSAGE,
                DEFERRED_UPDATE,
                UPDATE_MESSAGE,
                MODAL,
            },
            AUTOCOMPLETE: {AUTOCOMPLETE_RESULT},
            MODAL_SUBMIT: {
                CHANNEL_MESSAGE,
                DEFERRED_CHANNEL_MESSAGE,
                DEFERRED_UPDATE,
                UPDATE_MESSAGE,
            },
        }[interaction.type]
        if kind not in allowed:
            raise errors.DiscordError(400, 40043, "Interaction callback type is not allowed here")
        message: Message | None = None
        state = self.state
        if kind == CHANNEL_MESSAGE:
            message = self._new_message(interaction, data, uploads)
            interaction.original_message_id = message.id
        elif kind == DEFERRED_CHANNEL_MESSAGE:
            message = self._new_message(
                interaction,
                {"flags": data.get("flags", 0)},
                [],
                extra_flags=LOADING,
                validate=False,
            )
            interaction.original_message_id = message.id
        elif kind in (DEFERRED_UPDATE, UPDATE_MESSAGE):
            if interaction.component_message_id is None:
                raise errors.DiscordError(
                    400, 40043, "Interaction callback type is not allowed here"
                )
            message = state.messages[interaction.component_message_id]
            interaction.original_message_id = message.id
            if kind == UPDATE_MESSAGE:
                state.edit_message(message, data, uploads)
        elif kind == MODAL:
            if not data.get("custom_id") or not data.get("title") or not data.get("components"):
                raise errors.invalid_form_body(
                    {"data": errors.field_error("BASE_TYPE_REQUIRED", "This field is required")}
                )
            interaction.modal = dict(data)
        interaction.ack_type = kind
        interaction.acked_at = time.monotonic()
        view = response_view(kind, "callback", message)
        if kind == MODAL:
            view.update(
                custom_id=data.get("custom_id"),
                title=data.get("title"),
                components=data.get("components"),
            )
        if kind == DEFERRED_CHANNEL_MESSAGE:
            view["ephemeral"] = bool(int(data.get("flags") or 0) & EPHEMERAL)
        if kind == AUTOCOMPLETE_RESULT:
            view["choices"] = data.get("choices") or []
        interaction.record(view)
        answer: dict[str, Any] = {
            "interaction": {
                "id": str(interaction.id),
                "type": interaction.type,
                "activity_instance_id": None,
                "response_message_id": str(message.id) if message else None,
                "response_message_loading": kind == DEFERRED_CHANNEL_MESSAGE,
                "response_message_ephemeral": bool(message and message.flags & EPHEMERAL),
            },
        }
        if kind in (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, UPDATE_MESSAGE) and message:
            answer["resource"] = {"type": kind, "message": state.message_payload(message)}
        return answer

    def _new_message(
        self,
        interaction: Interaction,
        data: dict[str, Any],
        uploads: list[Upload],
        *,
        extra_flags: int = 0,
        validate: bool = True,
    ) -> Message:
        state = self.state
        user = state.users[interaction.user_id]
        metadata = {
            "id": str(interaction.id),
            "type": interaction.type,
            "user": user.payload(),
            "authorizing_integration_owners": {"0": str(state.the_guild.id)},
        }
        if interaction.type == APPLICATION_COMMAND:
            metadata["name"] = interaction.payload["data"]["name"]
        if interaction.component_message_id is not None:
            metadata["interacted_message_id"] = str(interaction.component_message_id)
        message = state.create_message(
            interaction.channel_id,
            state.bot_user.id,
            data,
            uploads,
            message_type=20 if interaction.type == APPLICATION_COMMAND else 19,
            extra_flags=extra_flags,
            interaction_metadata=metadata,
            webhook_id=state.application_id,
            validate=validate,
        )
        interaction.message_ids.add(message.id)
        return message

    def _by_webhook(self, application_id: str, token: str) -> Interaction:
        interaction = self.by_token.get(token)
        if interaction is None or application_id != str(self.state.application_id):
            raise errors.unknown_webhook()
        if time.monotonic() - interaction.created > TOKEN_LIFETIME_S:
            raise errors.DiscordError(401, 50027, "Invalid Webhook Token")
        if interaction.ack_type is None:
            raise errors.unknown_webhook()
        return interaction

    def _owned_message(self, interaction: Interaction, message_id: str) -> Message:
        if message_id == "@original":
            wanted = interaction.original_message_id
        else:
            wanted = int(message_id) if message_id.isdigit() else None
            if wanted not in interaction.message_ids and wanted != interaction.original_message_id:
                wanted = None
        message = self.state.messages.get(wanted) if wanted is not None else None
        if message is None:
            raise errors.unknown_message()
        return message

    def follow_up(
        self, application_id: str, token: str, body: dict[str, Any], uploads: list[Upload]
    ) -> Message:
        interaction = self._by_webhook(application_id, token)
        original = (
            self.state.messages.get(interaction.original_message_id)
            if interaction.original_message_id
            else None
        )
        if (
            interaction.ack_type == DEFERRED_CHANNEL_MESSAGE
            and original
            and original.flags & LOADING
        ):
            # The first follow-up after a defer replaces the "thinking" message.
            limits.check_message(body, has_files=bool(uploads))
            original.flags &= ~LOADING
            message = self.state.edit_message(original, _message_fields(body), uploads)
            interaction.record(response_view(CHANNEL_MESSAGE, "followup", message))
            return message
        message = self._new_message(interaction, body, uploads)
        interaction.record(response_view(CHANNEL_MESSAGE, "followup", message))
        return message

    def get_message(self, application_id: str, token: str, message_id: str) -> Message:
        return self._owned_message(self._by_webhook(application_id, token), message_id)

    def edit_message(
        self,
        application_id: str,
        token: str,
        message_id: str,
        body: dict[str, Any],
        uploads: list[Upload],
    ) -> Message:
        interaction = self._by_webhook(application_id, token)
        message = self._owned_message(interaction, message_id)
        was_loading = bool(message.flags & LOADING)
        if was_loading:
            limits.check_message(body, has_files=bool(uploads))
            message.flags &= ~LOADING
        self.state.edit_message(message, _message_fields(body), uploads)
        source = "edit_original" if message_id == "@original" else "edit_followup"
        interaction.record(
            response_view(CHANNEL_MESSAGE if was_loading else UPDATE_MESSAGE, source, message)
        )
        return message

    def delete_message(self, application_id: str, token: str, message_id: str) -> None:
        interaction = self._by_webhook(application_id, token)
        message = self._owned_message(interaction, message_id)
        self.state.delete_message(message)
        interaction.message_ids.discard(message.id)

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


def _message_fields(body: dict[str, Any]) -> dict[str, Any]:
    keys = ("content", "embeds", "components", "attachments", "flags", "allowed_mentions")
    return {k: body[k] for k in keys if k in body}


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
