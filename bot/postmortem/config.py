"""``[postmortem]``: the timeline's reactions, the 48-hour reminders, and publishing.

The rule itself (which severities, within how long, which path) is the procedure's
(``[procedure.postmortem]``); this section is how the bot helps keep it.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.core.durations import Duration

# The template's milestones a responder can mark, and what the timeline calls them.
MILESTONES: dict[str, str] = {
    "alert_fired": "Alert fired",
    "commander_assigned": "Incident commander assigned",
    "root_cause": "Root cause identified",
    "mitigation": "Mitigation applied",
    "fix_deployed": "Fix deployed",
    "restored": "Service restored",
    "note": "Note",
}

Who = Annotated[list[str], Field(min_length=1)]


class PostmortemConfig(BaseModel):
    """``[postmortem]``."""

    model_config = ConfigDict(extra="forbid")

    # Emoji → milestone: reacting with it marks the message; removing the reaction unmarks.
    reactions: dict[str, str] = {
        "🔍": "root_cause",
        "🩹": "mitigation",
        "🟢": "restored",
        "⏱": "note",
    }
    # Reminders to the commander this long before the deadline (of a P0/P1 postmortem).
    remind_before: list[Duration] = [timedelta(hours=24), timedelta(hours=4)]
    # Who may publish: the commander, or a role (the same words as [permissions]).
    publish: Who = ["commander", "incident-admin"]
    # Where publishing commits; the remote is [ops_repo].url (a token for HTTPS is the
    # secret INCIDENT_BOT_OPS_REPO_TOKEN).
    branch: str | None = None  # None: [ops_repo].branch
    checkout: Path | None = None  # None: postmortem-repo inside data_dir
    author_name: str = "Incident Bot"
    author_email: str = "incident-bot@localhost"
    # Backfill: how many messages one gap may read per channel (Discord pages 100 at once).
    backfill_limit: int = Field(20_000, gt=0)

    @field_validator("reactions")
    @classmethod
    def _known_milestones(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted({m for m in value.values() if m not in MILESTONES})
        if unknown:
            raise ValueError(
                f"no milestone named {', '.join(unknown)}; the milestones are "
                + ", ".join(MILESTONES)
            )
        return value
