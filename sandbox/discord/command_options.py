"""A slash command's options as Discord's client sends them: found among the synced commands,
nested under (group) subcommands, converted by declared type, with ``resolved`` data."""

from __future__ import annotations

from typing import Any

from . import command_line
from .interaction_model import ControlError
from .model import Attachment
from .state import DiscordState


class CommandOptions:
    """Builds an APPLICATION_COMMAND's ``data.options`` from ``{name: value}``."""

    state: DiscordState

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

    def read_command_line(self, line: str) -> dict[str, Any]:
        """``{name, subcommand, options}`` of a typed ``/command …`` line (see command_line.py)."""
        name, rest = command_line.split_name(line)
        subcommand, options = command_line.parse(self.find_command(name), rest)
        return {"name": name, "subcommand": subcommand, "options": options}

    def _build_options(
        self,
        command: dict[str, Any],
        subcommand: str | None,
        given: dict[str, Any],
        focused: str | None = None,
    ) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
        """``focused``: an autocomplete, whose options may be partial and whose focused
        option carries the text typed so far."""
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
            return self._values(command["name"], declared, given, resolved, focused), resolved
        if not subcommand:
            names = ", ".join(o["name"] for o in nested)
            raise ControlError(400, f"/{command['name']} needs a subcommand ({names})")
        parts = subcommand.split()
        first = next((o for o in nested if o["name"] == parts[0]), None)
        if first is None or (first["type"] == 2) != (len(parts) == 2) or len(parts) > 2:
            raise ControlError(400, f"/{command['name']} has no subcommand {subcommand!r}")
        if first["type"] == 1:
            values = self._values(subcommand, first.get("options") or [], given, resolved, focused)
            return [{"type": 1, "name": first["name"], "options": values}], resolved
        sub = next(
            (o for o in first.get("options") or [] if o["name"] == parts[1] and o.get("type") == 1),
            None,
        )
        if sub is None:
            raise ControlError(400, f"/{command['name']} has no subcommand {subcommand!r}")
        values = self._values(subcommand, sub.get("options") or [], given, resolved, focused)
        inner = {"type": 1, "name": sub["name"], "options": values}
        return [{"type": 2, "name": first["name"], "options": [inner]}], resolved

    def _values(
        self,
        where: str,
        declared: list[dict[str, Any]],
        given: dict[str, Any],
        resolved: dict[str, dict[str, Any]],
        focused: str | None = None,
    ) -> list[dict[str, Any]]:
        by_name = {o["name"]: o for o in declared}
        if focused is not None and not (by_name.get(focused) or {}).get("autocomplete"):
            raise ControlError(400, f"{where}: option {focused!r} has no autocomplete")
        unknown = sorted(set(given) - set(by_name))
        if unknown:
            raise ControlError(
                400,
                f"{where}: unknown option(s) {', '.join(unknown)} (declared: {', '.join(by_name)})",
            )
        missing = [o["name"] for o in declared if o.get("required") and o["name"] not in given]
        if missing and focused is None:
            raise ControlError(400, f"{where}: missing required option(s) {', '.join(missing)}")
        result = []
        for option in declared:  # in declared order, as a Discord client sends them
            if option["name"] not in given:
                continue
            if option["name"] == focused:  # what is typed so far, whatever the type
                partial = {"type": option["type"], "name": focused, "value": str(given[focused])}
                result.append({**partial, "focused": True})
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
            body = {
                **channel.payload(),
                "permissions": str(state.permissions(state.bot_user.id, channel)),
            }
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
