"""The on-call rotation: who is primary and secondary at a given moment.

Read from a Markdown table (``runbooks/on-call-rotation.md`` in the ops
repository) or from ``[[rotation.shifts]]`` in the TOML. The accepted format::

    Time zone: Europe/Berlin.  Hand-over at 09:00.      (both lines optional)

    | Start            | End              | Primary | Secondary |
    |------------------|------------------|---------|-----------|
    | 2026-11-23 09:00 | 2026-11-30 09:00 | @alice  | @bob      |

Start and End are ISO dates or date-times; a bare date means the hand-over time
on that day; a time without an offset is in the file's time zone (else the
configured one). Members are ``@username``, ``username`` or ``<@id>``. The
Secondary column is optional. Rows may come in any order. Overrides stored in
the database win over the table.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_ZONE_LINE = re.compile(r"time\s*zone\s*:\s*([A-Za-z_+\-/0-9]+)", re.IGNORECASE)
_HANDOVER_LINE = re.compile(r"hand-?over\s*(?:at|time)?\s*:?\s*(\d{1,2}):(\d{2})", re.IGNORECASE)
_MENTION = re.compile(r"^<@!?(\d+)>$")
DEFAULT_HANDOVER = time(9, 0)


@dataclass(frozen=True)
class Shift:
    start: datetime
    end: datetime
    primary: str  # a member reference as written: "@alice", "alice" or "<@123>"
    secondary: str | None = None
    line: int = 0

    def covers(self, at: datetime) -> bool:
        return self.start <= at < self.end


@dataclass
class Rotation:
    shifts: list[Shift] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # parse problems, with line numbers
    source: str = ""

    def shift_at(self, at: datetime) -> Shift | None:
        for shift in self.shifts:
            if shift.covers(at):
                return shift
        return None

    def next_shift(self, at: datetime) -> Shift | None:
        later = [s for s in self.shifts if s.start > at]
        return min(later, key=lambda s: s.start) if later else None


def member_key(reference: str) -> str:
    """``"@Alice"`` → ``"alice"``; ``"<@123>"`` → ``"123"``."""
    ref = reference.strip()
    mention = _MENTION.match(ref)
    if mention:
        return mention.group(1)
    return ref.removeprefix("@").strip().lower()


def parse_moment(text: str, zone: ZoneInfo, handover: time) -> datetime:
    value = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        moment = datetime.combine(datetime.fromisoformat(value).date(), handover)
    else:
        moment = datetime.fromisoformat(value.replace(" ", "T", 1))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def parse_markdown(text: str, default_zone: ZoneInfo, source: str = "") -> Rotation:
    rotation = Rotation(source=source)
    zone, handover = default_zone, DEFAULT_HANDOVER
    header: list[str] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        zone_match = _ZONE_LINE.search(line)
        if zone_match and not line.startswith("|"):
            try:
                zone = ZoneInfo(zone_match.group(1).rstrip("."))
            except (ZoneInfoNotFoundError, ValueError):
                rotation.problems.append(
                    f"line {number}: unknown time zone {zone_match.group(1)!r}"
                )
        handover_match = _HANDOVER_LINE.search(line)
        if handover_match and not line.startswith("|"):
            handover = time(int(handover_match.group(1)), int(handover_match.group(2)))
        if not line.startswith("|"):
            header = None if not line else header
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if all(re.fullmatch(r":?-+:?", cell) for cell in cells if cell):
            continue
        lowered = [cell.lower() for cell in cells]
        if "start" in lowered and "primary" in lowered:
            header = lowered
            continue
        if header is None:
            rotation.problems.append(
                f"line {number}: a table row before a header with Start and Primary"
            )
            continue
        row = dict(zip(header, cells, strict=False))
        try:
            start = parse_moment(row.get("start", ""), zone, handover)
            end = parse_moment(row.get("end", ""), zone, handover)
        except ValueError:
            rotation.problems.append(
                f"line {number}: Start/End must be ISO dates such as 2026-11-23 or 2026-11-23T09:00+01:00"
            )
            continue
        primary = row.get("primary", "").strip()
        if not primary:
            rotation.problems.append(f"line {number}: no primary")
            continue
        if end <= start:
            rotation.problems.append(f"line {number}: End is not after Start")
            continue
        secondary = row.get("secondary", "").strip() or None
        rotation.shifts.append(Shift(start, end, primary, secondary, number))
    rotation.shifts.sort(key=lambda s: s.start)
    return rotation


def validate(rotation: Rotation, now: datetime, known: Callable[[str], bool]) -> list[str]:
    """Everything that would surprise someone at 3 a.m.: gaps, overlaps, unknown members."""
    problems = list(rotation.problems)
    where = f" in {rotation.source}" if rotation.source else ""
    if not rotation.shifts:
        return [*problems, f"the rotation{where} has no shifts"]
    for before, after in zip(rotation.shifts, rotation.shifts[1:], strict=False):
        if after.start > before.end:
            problems.append(
                f"gap{where}: nobody is on call from {before.end:%Y-%m-%d %H:%M} to "
                f"{after.start:%Y-%m-%d %H:%M} UTC (after line {before.line})"
            )
        elif after.start < before.end:
            problems.append(
                f"overlap{where}: lines {before.line} and {after.line} both cover "
                f"{after.start:%Y-%m-%d %H:%M} UTC"
            )
    for shift in rotation.shifts:
        for ref in (shift.primary, shift.secondary):
            if ref and not known(member_key(ref)):
                problems.append(f"line {shift.line}{where}: {ref} is not a member of the guild")
    if rotation.shift_at(now) is None:
        problems.append(f"nobody is on call now ({now:%Y-%m-%d %H:%M} UTC){where}")
    last_end = max(s.end for s in rotation.shifts)
    if now <= last_end < now + timedelta(days=7):
        problems.append(f"the rotation{where} ends at {last_end:%Y-%m-%d %H:%M} UTC, within a week")
    return problems


@dataclass(frozen=True)
class Override:
    user_id: str
    position: str  # "primary" | "secondary"
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class OnCall:
    primary: str | None  # member keys (username or id) as resolved by the caller
    secondary: str | None
    shift: Shift | None
    overridden: tuple[str, ...] = ()


def on_call(rotation: Rotation, overrides: Sequence[Override], at: datetime) -> OnCall:
    shift = rotation.shift_at(at)
    primary = member_key(shift.primary) if shift else None
    secondary = member_key(shift.secondary) if shift and shift.secondary else None
    overridden: list[str] = []
    # The newest override wins where two cover the same moment.
    for override in overrides:
        if not override.starts_at <= at < override.ends_at:
            continue
        if override.position == "primary":
            primary = override.user_id
        else:
            secondary = override.user_id
        overridden.append(override.position)
    if primary is not None and primary == secondary:
        secondary = None
    return OnCall(primary, secondary, shift, tuple(overridden))


class RotationSource:
    """Reads the rotation from its file (re-read when it changes) or from configuration."""

    def __init__(self, path: Path | None, inline: Iterable[Shift], zone: ZoneInfo) -> None:
        self._path = path
        self._inline = list(inline)
        self._zone = zone
        self._cached: Rotation | None = None
        self._stamp: tuple[float, int] | None = None

    def current(self) -> Rotation:
        if self._path is None:
            return Rotation(
                shifts=sorted(self._inline, key=lambda s: s.start), source="configuration"
            )
        try:
            stat = self._path.stat()
        except FileNotFoundError:
            return Rotation(problems=[f"{self._path} does not exist"], source=str(self._path))
        stamp = (stat.st_mtime, stat.st_size)
        if self._cached is None or stamp != self._stamp:
            text = self._path.read_text(encoding="utf-8")
            self._cached = parse_markdown(text, self._zone, source=str(self._path))
            self._stamp = stamp
        return self._cached
