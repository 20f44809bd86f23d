"""``[follow_up]``: where the plan tracker is pushed from, the reminders and the digest,
the close-out checklist's threshold and override, and archiving."""

from __future__ import annotations

import re
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.core.durations import Duration
from bot.follow_up.due import WEEKDAYS

Who = Annotated[list[str], Field(min_length=1)]


class FollowUpConfig(BaseModel):
    """``[follow_up]``."""

    model_config = ConfigDict(extra="forbid")

    # The plan tracker's own checkout of [ops_repo].url (None: follow-up-repo in data_dir);
    # the branch and commit author are the postmortem's ([postmortem] branch, author_*).
    checkout: Path | None = None
    # Owners are reminded this long before the end of an item's due day, then when it is
    # overdue, and again every `overdue_every` while it stays open.
    remind_before: list[Duration] = [timedelta(days=1)]
    overdue_every: Duration = Field(timedelta(days=1))
    # The weekly digest of open items in #ops-alerts, in the configured time zone.
    digest_day: str = "monday"
    digest_time: str = "09:00"
    # Time to detect past this asks for the checklist's "alert rules updated".
    slow_detection: Duration = timedelta(minutes=15)
    # Who may close an incident with items missing (with a reason, recorded).
    override: Who = ["incident-admin"]
    # Archiving: the category closed channels move to (a new one, numbered, at 50 channels),
    # and how long an archived channel is kept before deletion (transcript and postmortem
    # permitting).
    archive_category: str = "Incident archive"
    delete_after: Duration = timedelta(days=90)
    sweep_every: Duration = timedelta(hours=6)

    @field_validator("digest_day")
    @classmethod
    def _weekday(cls, value: str) -> str:
        day = value.strip().lower()
        if day not in WEEKDAYS:
            raise ValueError(f"digest_day must be one of {', '.join(WEEKDAYS)}, not {value!r}")
        return day

    @field_validator("digest_time")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value.strip()):
            raise ValueError(f"digest_time is HH:MM on a 24-hour clock, not {value!r}")
        return value.strip()

    @property
    def digest_at(self) -> time:
        hours, minutes = self.digest_time.split(":")
        return time(int(hours), int(minutes))
