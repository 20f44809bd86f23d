"""``/incident stats period:`` and the same numbers as Prometheus gauges on ``/metrics``:
incidents by severity; mean and p90 time to detect, acknowledge, mitigate and resolve (the
postmortem's measures, bot/postmortem/timeline_rules.py); postmortems on time; action
items open and overdue."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from prometheus_client import CollectorRegistry, Gauge
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.clock import Clock
from bot.core.durations import format_duration
from bot.follow_up.due import overdue
from bot.follow_up.stats_rules import mean, p90
from bot.postmortem import timeline_rules
from bot.postmortem.rules import PostmortemDue
from bot.postmortem.timeline import as_event
from storage import follow_up as queries
from storage import postmortem as pm_queries
from storage.models import Incident

MEASURES = ("detect", "acknowledge", "mitigate", "resolve")


@dataclass
class Stats:
    period: timedelta
    by_severity: Counter[str] = field(default_factory=Counter)
    spans: dict[str, list[timedelta]] = field(default_factory=lambda: {m: [] for m in MEASURES})
    postmortems_due: int = 0
    postmortems_on_time: int = 0
    items_open: int = 0
    items_overdue: int = 0

    def render(self) -> str:
        total = sum(self.by_severity.values())
        lines = [f"**Incidents in the last {format_duration(self.period)}**: {total}"]
        if total:
            lines.append(", ".join(f"{name}: {n}" for name, n in sorted(self.by_severity.items())))
        for name in MEASURES:
            values = self.spans[name]
            if values:
                m, p = mean(values), p90(values)
                assert m is not None and p is not None
                lines.append(
                    f"Time to {name}: mean {format_duration(m)}, p90 {format_duration(p)} "
                    f"({len(values)} incident{'s' if len(values) != 1 else ''})"
                )
            else:
                lines.append(f"Time to {name}: no incident measured")
        lines.append(
            f"Postmortems on time: {self.postmortems_on_time} of {self.postmortems_due} due"
        )
        lines.append(
            f"Action items (every incident): {self.items_open} open, {self.items_overdue} overdue"
        )
        return "\n".join(lines)


class StatsService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        today: Callable[[], date],
        due_of: Callable[[Incident], PostmortemDue | None],
        severity_name: Callable[[str], str],
    ) -> None:
        self._sessions, self._clock, self._today = sessions, clock, today
        self._due_of, self._severity_name = due_of, severity_name
        self._gauges: dict[str, Gauge] | None = None

    async def stats(self, period: timedelta) -> Stats:
        now = self._clock.now()
        result = Stats(period)
        async with self._sessions() as session:
            for incident in await queries.incidents_since(session, now - period):
                await self._count(session, incident, result, now)
            today = self._today()
            for item, _ in await queries.open_items(session):
                result.items_open += 1
                result.items_overdue += overdue(item.due_on, today)
        return result

    async def _count(
        self, session: AsyncSession, incident: Incident, result: Stats, now: datetime
    ) -> None:
        result.by_severity[self._severity_name(incident.severity)] += 1
        events = [as_event(e) for e in await pm_queries.timeline(session, incident.id)]
        found = timeline_rules.lines(events, await pm_queries.alert_starts(session, incident.id))
        measured = timeline_rules.measures(
            found,
            incident.declared_at,
            incident.acknowledged_at,
            incident.resolved_at,
            incident.down_since,
        )
        for name, value in zip(
            MEASURES,
            (
                measured.to_detect,
                measured.to_acknowledge,
                measured.to_mitigate,
                measured.to_resolve,
            ),
            strict=True,
        ):
            if value is not None:
                result.spans[name].append(value)
        due = self._due_of(incident)
        if (
            due is None
            or due.due_at is None
            or (due.due_at > now and not await _published(session, incident))
        ):
            return  # none required, not resolved, or not due yet and not published
        result.postmortems_due += 1
        row = await pm_queries.find_record(session, incident.id)
        if row is not None and row.published_at is not None and row.published_at <= due.due_at:
            result.postmortems_on_time += 1

    # -- /metrics ----------------------------------------------------------------------------
    def register(self, registry: CollectorRegistry) -> None:
        gauge = {
            "incidents": Gauge(
                "incident_bot_incidents_30d",
                "Incidents declared in the last 30 days, by severity",
                ["severity"],
                registry=registry,
            ),
            "mean": Gauge(
                "incident_bot_time_to_seconds_mean_30d",
                "Mean time to detect, acknowledge, mitigate, resolve (last 30 days)",
                ["measure"],
                registry=registry,
            ),
            "p90": Gauge(
                "incident_bot_time_to_seconds_p90_30d",
                "90th percentile time to detect, acknowledge, mitigate, resolve (last 30 days)",
                ["measure"],
                registry=registry,
            ),
            "pm_due": Gauge(
                "incident_bot_postmortems_due_30d",
                "Postmortems due (last 30 days)",
                registry=registry,
            ),
            "pm_on_time": Gauge(
                "incident_bot_postmortems_on_time_30d",
                "Postmortems published by their deadline (last 30 days)",
                registry=registry,
            ),
            "items": Gauge(
                "incident_bot_action_items",
                "Action items not done, by state",
                ["state"],
                registry=registry,
            ),
        }
        self._gauges = gauge

    async def refresh(self) -> None:
        if self._gauges is None:
            return
        g = self._gauges
        stats = await self.stats(timedelta(days=30))
        for name, count in stats.by_severity.items():
            g["incidents"].labels(name).set(count)
        for name in MEASURES:
            m, p = mean(stats.spans[name]), p90(stats.spans[name])
            g["mean"].labels(name).set(m.total_seconds() if m is not None else float("nan"))
            g["p90"].labels(name).set(p.total_seconds() if p is not None else float("nan"))
        g["pm_due"].set(stats.postmortems_due)
        g["pm_on_time"].set(stats.postmortems_on_time)
        g["items"].labels("open").set(stats.items_open)
        g["items"].labels("overdue").set(stats.items_overdue)


async def _published(session: AsyncSession, incident: Incident) -> bool:
    row = await pm_queries.find_record(session, incident.id)
    return row is not None and row.published_at is not None
