"""Who to page: the rotation table, overrides stored in SQLite, and guild members."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.discord_out import DiscordOut
from bot.core.clock import Clock
from bot.core.durations import parse_when
from bot.core.permissions import Actor, require
from bot.errors import NotFound, UserError
from bot.settings import Permissions
from bot.triage.rotation import OnCall, Override, RotationSource, Shift, on_call, validate
from storage import incidents as queries
from storage.models import RotationOverride


@dataclass(frozen=True)
class Resolved:
    """An on-call answer with member ids (None where nobody, or the name is unknown)."""

    primary_id: str | None
    secondary_id: str | None
    shift: Shift | None
    overridden: tuple[str, ...]
    unresolved: tuple[str, ...]  # names in the table that are not guild members


class OnCallService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        source: RotationSource,
        discord: DiscordOut,
        permissions: Permissions,
        zone: tzinfo,
        clock: Clock | None = None,
    ) -> None:
        self._clock = clock or Clock()
        self._sessions = sessions
        self._permissions = permissions
        self._zone = zone
        # Overrides change only through this service, so a copy in memory (loaded once,
        # updated after each committed change) saves a query on the path to the ping.
        self._overrides: list[Override] | None = None
        self._source = source
        self._discord = discord

    def _member_id(self, key: str | None, unresolved: list[str]) -> str | None:
        if key is None:
            return None
        member = self._discord.member_by_key(key)
        if member is None:
            unresolved.append(key)
            return None
        return str(member.id)

    async def overrides(self) -> list[Override]:
        if self._overrides is None:
            async with self._sessions() as session:
                rows = await queries.rotation_overrides(session)
                self._overrides = [
                    Override(r.user_id, r.position, r.starts_at, r.ends_at) for r in rows
                ]
        return self._overrides

    async def at(self, moment: datetime | None = None) -> Resolved:
        """Who is on call at ``moment`` (now by default)."""
        moment = moment or self._clock.now()
        overrides = await self.overrides()
        answer: OnCall = on_call(self._source.current(), overrides, moment)
        unresolved: list[str] = []
        primary = self._member_id(answer.primary, unresolved)
        secondary = self._member_id(answer.secondary, unresolved)
        return Resolved(primary, secondary, answer.shift, answer.overridden, tuple(unresolved))

    async def next(self, moment: datetime | None = None) -> Resolved:
        """Who takes over at the next hand-over."""
        moment = moment or self._clock.now()
        shift = self._source.current().next_shift(moment)
        if shift is None:
            return Resolved(None, None, None, (), ())
        return await self.at(shift.start)

    async def override_as(
        self, by: str, user_id: str, starts: str, ends: str, position: str
    ) -> tuple[datetime, datetime]:
        """``/oncall override``: who may, and times as people write them (``now``, ``+8h``…)."""
        actor = Actor(by, self._discord.role_names(by))
        require(self._permissions, "override_rotation", actor, doing="override the rotation")
        try:
            start_at = parse_when(starts, self._clock.now(), self._zone)
            end_at = parse_when(ends, start_at, self._zone)
        except ValueError as error:
            raise UserError(str(error)) from None
        await self.override(user_id, start_at, end_at, position, by)
        return start_at, end_at

    async def override(
        self, user_id: str, starts_at: datetime, ends_at: datetime, position: str, by: str
    ) -> RotationOverride:
        if ends_at <= starts_at:
            raise UserError("The override must end after it starts.")
        if ends_at <= self._clock.now():
            raise UserError("That override would already be over; give an end in the future.")
        if self._discord.member(user_id) is None:
            raise NotFound(f"<@{user_id}> is not a member of this server.")
        async with self._sessions.begin() as session:
            row = RotationOverride(
                user_id=user_id,
                position=position,
                starts_at=starts_at,
                ends_at=ends_at,
                created_by=by,
            )
            session.add(row)
        (await self.overrides()).append(Override(user_id, position, starts_at, ends_at))
        return row

    async def swap(self, by: str) -> Resolved:
        """Swap primary and secondary until the current shift ends."""
        require(
            self._permissions,
            "override_rotation",
            Actor(by, self._discord.role_names(by)),
            doing="swap the rotation",
        )
        now = self._clock.now()
        current = await self.at(now)
        if current.shift is None or current.primary_id is None or current.secondary_id is None:
            raise UserError(
                "There is no current shift with both a primary and a secondary to swap."
            )
        async with self._sessions.begin() as session:
            for user_id, position in (
                (current.secondary_id, "primary"),
                (current.primary_id, "secondary"),
            ):
                session.add(
                    RotationOverride(
                        user_id=user_id,
                        position=position,
                        starts_at=now,
                        ends_at=current.shift.end,
                        reason="swap",
                        created_by=by,
                    )
                )
        cached = await self.overrides()
        cached.append(Override(current.secondary_id, "primary", now, current.shift.end))
        cached.append(Override(current.primary_id, "secondary", now, current.shift.end))
        return await self.at(now)

    def problems(self, now: datetime | None = None) -> list[str]:
        """Gaps, overlaps and unknown members, for check-config and start-up."""
        return validate(
            self._source.current(),
            now or self._clock.now(),
            lambda key: self._discord.member_by_key(key) is not None,
        )
