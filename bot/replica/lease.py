"""This replica's side of the lease: wait for it, renew it, notice losing it.

The database decides (storage/lease.py); this class only asks, every
``renew_every``. Its own idea of still holding the lease is kept on the monotonic
clock from the *start* of the last successful renewal, so it always gives up
before the database would let a standby in: ``token()`` is None from then on,
and the effects it would fence never start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable

from sqlalchemy import URL

from bot.replica.config import ReplicaConfig
from storage import lease as queries
from storage.db import Target, describe, make_engine, make_sessions

log = logging.getLogger(__name__)


def default_name() -> str:
    return os.environ.get("INCIDENT_BOT_REPLICA_NAME") or f"{socket.gethostname()}-{os.getpid()}"


class Replica:
    def __init__(
        self,
        target: Target,
        config: ReplicaConfig,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = os.environ.get("INCIDENT_BOT_REPLICA_NAME") or config.name or default_name()
        self.ttl = config.lease_ttl.total_seconds()
        self.every = config.renew_every.total_seconds()
        # SQLite: one process by construction, so the lease is simply taken.
        self.single = not isinstance(target, URL)
        self._target = target
        self._engine = make_engine(target, pool_size=2) if isinstance(target, URL) else None
        self._monotonic = monotonic
        self._token: int | None = None
        self._valid_until = 0.0  # monotonic
        self.holder: str = ""  # who holds it, as last seen
        self.took_over_from: str | None = None
        self.active = asyncio.Event()
        self.lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- what the rest of the bot asks -------------------------------------------------------
    def token(self) -> int | None:
        """The fencing token while this replica surely holds the lease, else None."""
        if self._token is None or self._monotonic() >= self._valid_until:
            return None
        return self._token

    @property
    def role(self) -> str:
        return "active" if self.token() is not None else "standby"

    # -- the loop ----------------------------------------------------------------------------
    async def attempt(self) -> bool:
        """One try at taking or renewing the lease; True while held."""
        started = self._monotonic()
        engine = self._engine
        if engine is None:  # SQLite: a short-lived engine (the file is local, no pool to keep)
            engine = make_engine(self._target)
        try:
            async with make_sessions(engine).begin() as session:
                state = await queries.acquire(session, self.name, self.ttl, self.single)
        finally:
            if self._engine is None:
                await engine.dispose()
        self.holder = state.holder
        if state.token is None:
            self._token = None
            return False
        if not state.renewed:
            # A takeover is news (#ops-alerts hears of it); the one SQLite replica taking
            # its lease at start, after a restart, is not.
            self.took_over_from = None if self.single else state.took_over_from
            log.log(
                logging.WARNING if self.took_over_from else logging.INFO,
                "replica %s holds the lease (token %d)%s",
                self.name,
                state.token,
                f", taken over from {state.took_over_from}" if state.took_over_from else "",
            )
        self._token = state.token
        self._valid_until = started + self.ttl
        return True

    async def wait_active(self) -> None:
        """Standby until the lease is ours (the database says when it expired)."""
        announced = False
        while True:
            try:
                if await self.attempt():
                    self.active.set()
                    return
                if not announced:
                    log.info("replica %s is standby: %s holds the lease", self.name, self.holder)
                    announced = True
            except Exception as error:
                log.warning(
                    "replica %s could not reach the lease on %s: %s",
                    self.name,
                    describe(self._target),
                    type(error).__name__,
                )
            await asyncio.sleep(self.every)

    def keep(self) -> None:
        """Renew in the background while active; ``lost`` is set once it cannot."""
        self._task = asyncio.create_task(self._renew(), name="replica-lease")

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                held = await asyncio.wait_for(self.attempt(), timeout=self.every)
            except Exception as error:
                held = self.keeps_after_failure()
                log.warning(
                    "replica %s could not renew the lease (%s); %s",
                    self.name,
                    type(error).__name__,
                    "keeping it" if held else "stepping down",
                )
            if not held:
                self._token = None
                log.error(
                    "replica %s lost the lease (now %s): stepping down",
                    self.name,
                    self.holder or "nobody",
                )
                self.lost.set()
                return

    def keeps_after_failure(self) -> bool:
        """After a failed renewal: hold on only if the lease surely outlasts two more rounds
        (the next renewal may take a round to fail too); otherwise step down now, before
        the database could let a standby in. SQLite: nobody could take over, so hold on
        (effects wait for ``token()`` to come back)."""
        if self.single:
            return True
        return self._token is not None and self._monotonic() + 2 * self.every < self._valid_until

    async def close(self) -> None:
        """Stop renewing; a holder that stops cleanly lets the lease go at once."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        token, self._token = self._token, None
        if token is not None:
            with contextlib.suppress(Exception):
                engine = self._engine or make_engine(self._target)
                async with make_sessions(engine).begin() as session:
                    await queries.release(session, self.name, token)
                if self._engine is None:
                    await engine.dispose()
        if self._engine is not None:
            await self._engine.dispose()
