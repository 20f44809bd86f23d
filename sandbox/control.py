"""The control API under ``/_sandbox/``: drive the world and read what the bot did.

Published contract: /work/shared/docs/sandbox-contract.md ("Control API"). Additions are
listed in sandbox/README.md. This module holds the app, its error middleware, the reads and
the interactions; members acting are in sandbox/control_members.py, faults, holds, settings
and alerts in sandbox/control_faults.py, what they share in sandbox/control_base.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from .control_base import (
    DEFAULT_WAIT_S,
    Handler,
    interaction_view,
    message_view,
    options_of,
    role_view,
)
from .control_faults import FaultsControl
from .control_members import MembersControl
from .discord.errors import DiscordError
from .discord.interactions import ControlError

__all__ = ["ControlApi", "interaction_view", "message_view", "role_view"]


class ControlApi(MembersControl, FaultsControl):
    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.middleware])
        app.add_routes(
            [
                web.get("/world", self.get_world),
                web.get("/channels/{channel}/messages", self.channel_messages),
                web.get("/commands", self.list_commands),
                web.post("/commands", self.run_command),
                web.post("/components", self.press_component),
                web.post("/autocomplete", self.autocomplete),
                web.post("/modals", self.submit_modal),
                web.get("/interactions/{interaction_id}", self.get_interaction),
                web.post("/messages", self.post_message),
                web.patch("/messages/{message}", self.edit_message),
                web.delete("/messages/{message}", self.delete_message),
                web.post("/reactions", self.add_reaction),
                web.delete("/reactions", self.remove_reaction),
                web.post("/members/{user}/roles", self.add_role),
                web.delete("/members/{user}/roles", self.remove_role),
                web.patch("/roles/{role}", self.edit_role),
                web.put("/channels/{channel}/permissions/{target}", self.put_overwrite),
                web.get("/requests", self.requests),
                web.post("/faults", self.add_fault),
                web.get("/faults", self.list_faults),
                web.get("/holds", self.list_holds),
                web.post("/holds/release", self.release_holds),
                web.get("/settings", self.get_settings),
                web.put("/settings", self.put_settings),
                web.get("/rate-limits", self.get_rate_limits),
                web.get("/gateway", self.gateway),
                web.get("/alerts/sample", self.sample_alert),
                web.post("/alerts", self.fire_alert),
            ]
        )
        return app

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ControlError as error:
            return web.json_response({"error": error.message}, status=error.status)
        except DiscordError as error:
            body = {"error": error.message, "code": error.code}
            if error.errors:
                body["errors"] = error.errors
            return web.json_response(body, status=error.status)
        except web.HTTPMethodNotAllowed:
            return web.json_response({"error": f"{request.method} not allowed here"}, status=405)
        except web.HTTPNotFound:
            return web.json_response({"error": f"no control route {request.path}"}, status=404)

    # ------------------------------------------------------------------ reading
    async def get_world(self, request: web.Request) -> web.Response:
        return web.json_response(self.world.describe())

    async def channel_messages(self, request: web.Request) -> web.Response:
        channel = self._channel(request.match_info["channel"])
        ordered = sorted(channel.messages.values(), key=lambda m: m.id)
        return web.json_response([message_view(m) for m in ordered])

    async def list_commands(self, request: web.Request) -> web.Response:
        guild_id = self.state.the_guild.id
        scopes = ((guild_id, "guild"), (None, "global"))
        return web.json_response(
            [
                {**command, "scope": scope}
                for key, scope in scopes
                for command in self.state.commands.get(key, [])
            ]
        )

    async def get_interaction(self, request: web.Request) -> web.Response:
        ref = request.match_info["interaction_id"]
        interaction = self.discord.interactions.by_id.get(int(ref)) if ref.isdigit() else None
        if interaction is None:
            raise ControlError(404, f"unknown interaction {ref!r}")
        return web.json_response(interaction_view(interaction))

    async def requests(self, request: web.Request) -> web.Response:
        since = request.query.get("since")
        entries = self.discord.requests.entries
        if since:
            try:
                moment = datetime.fromisoformat(since.replace("Z", "+00:00"))
            except ValueError:
                raise ControlError(400, f"since must be an ISO-8601 time, not {since!r}") from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            entries = [e for e in entries if datetime.fromisoformat(e["at"]) >= moment]
        return web.json_response(entries)

    async def gateway(self, request: web.Request) -> web.Response:
        return web.json_response(self.discord.gateway.describe())

    # ------------------------------------------------------------------ interactions
    async def run_command(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        interactions = self.discord.interactions
        parsed = None
        if body.get("command_line") is not None:
            # An addition: the line as typed in Discord's client, read as the client reads it.
            if any(body.get(key) is not None for key in ("name", "subcommand", "options")):
                raise ControlError(400, "give command_line or name/subcommand/options, not both")
            self._required(body, "user_id", "channel_id")
            parsed = interactions.read_command_line(str(body["command_line"]))
            body = {**body, **parsed}
        self._required(body, "user_id", "channel_id", "name")
        options = options_of(body)
        interaction = interactions.run_command(
            self._user(body["user_id"]),
            self._channel(body["channel_id"]),
            str(body["name"]).removeprefix("/"),
            body.get("subcommand"),
            options,
        )
        return await self._answer(interaction, body, command=parsed)

    async def autocomplete(self, request: web.Request) -> web.Response:
        """``{user_id, channel_id, name, subcommand?, options, focused}`` → ``{choices}``:
        the bot's suggestions for the focused option, as a real autocomplete interaction."""
        body = await self._body(request)
        self._required(body, "user_id", "channel_id", "name", "focused")
        options = options_of(body)
        interaction = self.discord.interactions.run_autocomplete(
            self._user(body["user_id"]),
            self._channel(body["channel_id"]),
            str(body["name"]).removeprefix("/"),
            body.get("subcommand"),
            options,
            str(body["focused"]),
        )
        timeout = float(body.get("timeout") or DEFAULT_WAIT_S)
        answered = await self.discord.interactions.wait_answer(interaction, timeout)
        choices = next(
            (r.get("choices") or [] for r in interaction.responses if r["type"] == 8), []
        )
        return web.json_response(
            {"interaction_id": str(interaction.id), "choices": choices, "timed_out": not answered}
        )

    async def press_component(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        self._required(body, "user_id", "channel_id", "message_id", "custom_id")
        channel = self._channel(body["channel_id"])
        interaction = self.discord.interactions.press_component(
            self._user(body["user_id"]),
            channel,
            self._message(channel, body["message_id"]),
            str(body["custom_id"]),
            body.get("values"),
        )
        return await self._answer(interaction, body)

    async def submit_modal(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        self._required(body, "user_id", "channel_id", "custom_id")
        fields = body.get("fields") or {}
        if not isinstance(fields, dict):
            raise ControlError(400, "fields must be an object {custom_id: value}")
        interaction = self.discord.interactions.submit_modal(
            self._user(body["user_id"]),
            self._channel(body["channel_id"]),
            str(body["custom_id"]),
            fields,
        )
        return await self._answer(interaction, body)
