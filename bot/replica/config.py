"""``[replica]``: this process's name and the lease's timing."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, model_validator

from bot.core.durations import Duration


class ReplicaConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Unique per replica (INCIDENT_BOT_REPLICA_NAME wins): #ops-alerts and /healthz name
    # it. None: the host name and process id.
    name: str | None = None
    # Past this on the database's clock without a renewal, a standby takes over.
    lease_ttl: Duration = timedelta(seconds=10)
    renew_every: Duration = timedelta(seconds=2)  # the holder renews, a standby retries

    @model_validator(mode="after")
    def _renew_well_within_ttl(self) -> ReplicaConfig:
        if self.renew_every * 2 >= self.lease_ttl:
            raise ValueError(
                "renew_every must be under half of lease_ttl, or one slow renewal loses the lease"
            )
        return self
