"""The bot's side of an interaction: the callback (within 3 s, once), follow-ups, and edits or
deletes of its messages through the interaction webhook (15 minutes)."""

from __future__ import annotations

import time
from typing import Any

from . import component_checks, errors, limits
from .interaction_model import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    AUTOCOMPLETE_RESULT,
    CALLBACK_DEADLINE_S,
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE,
    MESSAGE_COMPONENT,
    MODAL,
    MODAL_SUBMIT,
    PING,
    PONG,
    TOKEN_LIFETIME_S,
    UPDATE_MESSAGE,
    Interaction,
    response_view,
)
from .model import EPHEMERAL, LOADING, Message
from .state import DiscordState, Upload


class Answers:
    """Records each answer of the bot on its interaction, as the REST routes receive them."""

    state: DiscordState
    by_id: dict[int, Interaction]
    by_token: dict[str, Interaction]

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
            component_checks.check_modal(data)
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
        # The description's resource is a created (4) or updated (7) message; a defer has
        # none (its message is found by ``response_message_id``).
        if kind in (CHANNEL_MESSAGE, UPDATE_MESSAGE) and message:
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
            message = self.state.edit_message(
                original, _message_fields(body), uploads, first_content=True
            )
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
        self.state.edit_message(message, _message_fields(body), uploads, first_content=was_loading)
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


def _message_fields(body: dict[str, Any]) -> dict[str, Any]:
    keys = ("content", "embeds", "components", "attachments", "flags", "allowed_mentions")
    return {k: body[k] for k in keys if k in body}
