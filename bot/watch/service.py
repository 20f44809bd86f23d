"""The chain watch: a loop on the bot's clock reads each confirmed block range after the
durable cursor, classifies each transaction with watched events, and moves the cursor only
once every transaction of the range is recorded (a restart reads the range again and finds
them: each declared once, by its request key ``chain:<tx>``).

An approved action (bot/watch/rules.py ``approved_match``) lands in its incident's
timeline; anything else declares a P0 through ``IncidentService.declare`` or joins the
incident of the same attack. A reorg that drops a transaction it saw is said in that
incident; nothing is deleted. #ops-alerts hears once when watching stops and resumes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.chain import ChainClient
from bot.adapters.notices import ChannelNotices
from bot.core.clock import Clock
from bot.core.locks import IncidentLocks
from bot.errors import ExternalServiceError, UserError
from bot.settings import Config
from bot.triage.lifecycle import record
from bot.triage.service import Declared, IncidentService
from bot.watch import outflows, rules
from bot.watch.outages import Outages
from bot.watch.reading import Reader, TxSeen
from storage import watch as queries
from storage.models import Incident
from storage.watch_models import WatchedTx

log = logging.getLogger(__name__)
APPROVED_STATES = ("approved", "applied", "failed")  # a mitigation the signers carried out
ADMIN_TITLE, OUTFLOW_TITLE = "Unauthorized admin action", "Outflow over limit"


class ChainWatch(Outages):
    def __init__(
        self,
        config: Config,
        chain: ChainClient | None,
        sessions: async_sessionmaker[AsyncSession],
        incidents: IncidentService,
        notices: ChannelNotices,
        ops_channel: Callable[[], str | None],
        clock: Clock,
        locks: IncidentLocks,
        names: dict[str, str],
    ) -> None:
        self.c = config.watch
        self.chain = chain
        self.sessions = sessions
        self.incidents = incidents
        self.notices = notices
        self.ops_channel = ops_channel
        self.clock = clock
        self.locks = locks
        self.problems: list[str] = []
        self.watched: dict[str, set[bytes]] = {}
        self.label: dict[str, str] = {}
        for name, contract in self.c.contracts.items():
            address = rules.resolve(contract.address, names)
            if address is None:
                self.problems.append(f"[watch.contracts.{name}]: {contract.address} is not set")
                continue
            self.watched.setdefault(address.lower(), set()).update(
                rules.EVENTS[e].topic for e in contract.events
            )
            self.label[address.lower()] = name
        self.outflows, problems = outflows.resolved(
            self.c, lambda value: rules.resolve(value, names)
        )
        self.problems.extend(problems)
        for rule in self.outflows:
            self.watched.setdefault(rule.token.lower(), set()).add(rules.TRANSFER_TOPIC)
            self.label.setdefault(rule.token.lower(), rule.token_name)
            self.label.setdefault(rule.vault.lower(), rule.vault_name)
        vaults = outflows.vault_words(self.outflows)
        self.reader = Reader(chain, self.watched, self.c.max_range, vaults) if chain else None
        self.task: asyncio.Task[None] | None = None
        self.head: int | None = None
        self.cursor: int | None = None
        self.down: str | None = None
        self.checked = False  # stored stop and pending transactions looked at this run
        self.looks = 0  # looks finished this run (the tests wait on it instead of sleeping)
        self.looked = asyncio.Event()  # set, and replaced, as each look ends
        self.undelivered: list[int] = []

    @property
    def enabled(self) -> bool:
        return self.c.enabled

    # -- running ----------------------------------------------------------------------------
    async def start(self) -> None:
        if not self.enabled or self.task is not None:
            return
        self.task = asyncio.create_task(self._run(), name="chain-watch")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None

    async def _run(self) -> None:
        await self.left_by_last_run()
        while True:
            behind = False
            try:
                behind = await self.tick()
            except asyncio.CancelledError:
                raise
            except (ExternalServiceError, UserError) as error:
                await self.stopped(str(error))
            except Exception as error:
                log.exception("the chain watch failed")
                await self.stopped(f"{type(error).__name__}: {error}")
            await self.deliver()
            self.looks += 1
            self.looked.set()
            self.looked = asyncio.Event()
            if not behind:  # behind (after an outage, or a capped RPC): read on at once
                await self.clock.sleep(self.c.poll_every.total_seconds())

    def health(self) -> tuple[bool, dict[str, Any]]:
        body: dict[str, Any] = {"cursor": self.cursor, "head": self.head}
        lag = 0
        if self.head is not None and self.cursor is not None:
            lag = rules.behind(self.cursor, self.head, self.c.confirmations, self.c.behind_blocks)
        problem = self.down or (f"{lag} blocks behind" if lag else None)
        if self.chain is None:
            problem = "no chain configured ([mitigate.chain] rpc_url)"
        problem = problem or ("; ".join(self.problems) if self.problems else None)
        body["state"] = problem or "watching"
        return problem is None, body

    # -- one look ---------------------------------------------------------------------------
    async def tick(self) -> bool:
        """One look: the next confirmed range read and applied; True when more confirmed
        blocks are already waiting (the loop reads on without waiting a poll)."""
        if self.chain is None or self.reader is None:
            raise UserError("no chain is configured ([mitigate.chain] rpc_url)")
        head = await self.chain.block_number()
        self.head = head
        async with self.sessions.begin() as session:
            state = await queries.state(session)
            if state is None:
                start = self.c.start_block
                cursor = start - 1 if start is not None else head - self.c.confirmations
                cursor = max(cursor, 0)
                found = await self.chain.header(cursor)
                state = queries.start_state(session, cursor, found[0] if found else None)
            cursor, cursor_hash, origin = state.cursor, state.cursor_hash, state.origin
        if self.down is not None or not self.checked:  # at start, and after any failure
            await self.resumed()
            await self._finish_pending()
            self.checked = True
        here = await self.chain.header(cursor) if cursor <= head else None
        if cursor > head or (cursor_hash and (here is None or here[0] != cursor_hash)):
            cursor = await self._reorg(cursor, origin)
        span = rules.next_range(cursor, head, self.c.confirmations, self.c.max_range)
        self.cursor = cursor
        if span is None:
            return False
        # The last block's hash is read before its logs: a reorg in between leaves a hash
        # the next look finds changed (and reads again), never a new hash over old logs.
        before = await self.chain.header(span[1])
        batch = await self.reader.read(*span)
        await self.report(batch.problems)
        for seen in batch.txs:
            await self.apply(seen)
        last = before if batch.last == span[1] else await self.chain.header(batch.last)
        async with self.sessions.begin() as session:
            state = await queries.state(session)
            assert state is not None
            state.cursor, state.cursor_hash = batch.last, last[0] if last else None
            state.updated_at = self.clock.now()
        self.cursor = batch.last
        return batch.last > cursor and batch.last < head - self.c.confirmations

    async def _reorg(self, cursor: int, origin: int | None) -> int:
        """The chain under the cursor changed: every transaction seen since ``reorg_depth``
        blocks back is looked up again; one no longer mined is said removed in its incident.
        The cursor goes back, so what moved to another block is read again (and found)."""
        assert self.chain is not None
        back = rules.rewind_to(cursor, self.c.reorg_depth, origin)
        log.warning("chain watch: reorg under block %s; reading again from %s", cursor, back + 1)
        async with self.sessions() as session:
            rows = list(await queries.since_block(session, back + 1))
        for row in rows:
            # The block it was in is still the chain's (a node may still answer a dropped
            # transaction's old receipt, so the canonical header decides).
            canonical = await self.chain.header(row.block)
            if canonical is not None and canonical[0] == row.block_hash:
                continue
            receipt = await self.chain.receipt_of(row.tx_hash)
            moved = receipt[0] if receipt is not None and receipt[0] != row.block_hash else None
            await self._removed(row, moved)
        found = await self.chain.header(back)
        async with self.sessions.begin() as session:
            state = await queries.state(session)
            assert state is not None
            state.cursor, state.cursor_hash = back, found[0] if found else None
        return back

    async def _removed(self, row: WatchedTx, moved_to: str | None) -> None:
        """Said in its incident, once; a transaction no longer mined counts no more toward
        an outflow limit. Nothing is deleted."""
        where = (
            f"is now in another block ({moved_to})"
            if moved_to
            else "is no longer on the chain (not mined in the new branch)"
        )
        text = (
            f"Reorg: tx {row.tx_hash} (block {row.block}, {row.block_hash}) {where}. "
            "What was recorded of it stays in this incident."
        )
        async with self.sessions.begin() as session:
            fresh = await queries.tx(session, row.tx_hash)
            if fresh is None or fresh.state == queries.REMOVED:
                return
            fresh.state = queries.REMOVED
            if moved_to is None:
                await outflows.forget(session, fresh.tx_hash)
            incident = await session.get(Incident, fresh.incident_id) if fresh.incident_id else None
            if incident is None:
                return
            data = {"tx": row.tx_hash}
            record(session, incident, "chain_watch_reorg", text, None, data, None, self.clock.now())
            if incident.channel_id:
                await self.notice(
                    session,
                    f"reorg:{row.tx_hash}",
                    incident.channel_id,
                    "⚠️ Reorg",
                    text,
                    incident_id=incident.id,
                )

    # -- classifying ------------------------------------------------------------------------
    def decoded(
        self, seen: TxSeen
    ) -> tuple[list[dict[str, Any]], list[outflows.Counted], list[rules.Problem]]:
        """The admin events, the transfers out of watched vaults, and the logs that do not
        decode (another contract's event with the same topic): said, never counted."""
        events, transfers, problems = [], [], []
        for raw in seen.logs:
            try:
                spec, args = rules.decode_log(raw.topics, raw.data)
            except rules.Undecodable as error:
                name = self.label.get(raw.address.lower(), raw.address)
                problems.append(rules.undecodable(raw, error, name, self.link(raw.tx_hash)))
                continue
            event = {
                "contract": raw.address,
                "name": self.label.get(raw.address.lower(), raw.address),
                "event": spec.signature,
                "text": rules.describe(spec, args),
                "log_index": raw.index,
            }
            if spec.signature != rules.TRANSFER:
                events.append(event)
            elif rule := rules.outflow_rule(self.outflows, raw.address, args):
                event["rule"] = rule.index
                transfers.append(outflows.Counted(rule, raw.index, int(args["value"]), event))
        return events, transfers, problems

    async def apply(self, seen: TxSeen) -> None:
        """Record the transaction (once: its hash is unique) and its transfers out of
        watched vaults, then settle it. Transfers under every limit are only counted."""
        events, transfers, problems = self.decoded(seen)
        await self.report(problems)
        if not events and not transfers:
            return
        async with self.sessions.begin() as session:
            if await queries.tx(session, seen.tx_hash) is not None:
                return  # seen before (a range read again after a restart or reorg)
            actions = [
                rules.Approved(
                    m.id, m.incident_id, m.target, m.calldata, (m.safe_tx or {}).get("hash")
                )
                for m in await queries.approved_actions(session, APPROVED_STATES)
            ]
            match = rules.approved_match(seen.to, seen.calldata, seen.receipt_logs, actions)
            over = await outflows.count(session, seen.tx_hash, seen.at, transfers)
            kind = (
                queries.APPROVED
                if match
                else queries.UNAUTHORIZED
                if events
                else queries.OUTFLOW
                if over
                else queries.COUNTED
            )
            shown = over + events + [t.event for t in transfers]
            session.add(
                WatchedTx(
                    tx_hash=seen.tx_hash,
                    sender=seen.sender,
                    to=seen.to,
                    block=seen.block,
                    block_hash=seen.block_hash,
                    block_time=seen.at,
                    kind=kind,
                    state=queries.DONE if kind == queries.COUNTED else queries.PENDING,
                    contracts=sorted({e["contract"] for e in shown}),
                    events=shown,
                    incident_id=match.incident_id if match else None,
                    mitigation_id=match.mitigation_id if match else None,
                    seen_at=self.clock.now(),
                )
            )
        await self._settle(seen.tx_hash)

    async def _finish_pending(self) -> None:
        async with self.sessions() as session:
            hashes = [row.tx_hash for row in await queries.pending(session)]
        for tx_hash in hashes:
            await self._settle(tx_hash)

    def link(self, tx_hash: str) -> str:
        return f"{self.c.explorer_url}/tx/{tx_hash}"

    def details(self, row: WatchedTx) -> str:
        lines = [f"- **{e['name']}** ({e['contract']}): `{e['text']}`" for e in row.events]
        return (
            "\n".join(lines)
            + f"\n**sender** {row.sender}\n**tx** {row.tx_hash}\n**block** {row.block}"
            + f"\n{self.link(row.tx_hash)}"
        )

    async def _settle(self, tx_hash: str) -> None:
        async with self.sessions() as session:
            row = await queries.tx(session, tx_hash)
            if row is None or row.state != queries.PENDING:
                return
            incident_id = row.incident_id
            if incident_id is None:
                recent = await queries.recent_attacks(session, row.block_time - self.c.group_window)
                attacks = [
                    rules.Attack(r.incident_id or 0, r.sender, frozenset(r.contracts), r.block_time)
                    for r in recent
                ]
                incident_id = rules.same_attack(
                    row.sender, row.contracts, row.block_time, attacks, self.c.group_window
                )
        joined = incident_id is not None and row.kind != queries.APPROVED
        what = OUTFLOW_TITLE if row.kind == queries.OUTFLOW else ADMIN_TITLE
        if incident_id is None:
            declared = await self.incidents.declare(
                None,
                what,
                self.c.severity,
                f"{rules.headline(row.events[0])} by {row.sender}, tx {row.tx_hash} "
                f"in block {row.block}: {self.link(row.tx_hash)}",
                request_key=f"chain:{row.tx_hash}",
                source="chain",
            )
            assert isinstance(declared, Declared)
            incident_id = declared.incident.id
        async with self.locks.hold(incident_id), self.sessions.begin() as session:
            fresh = await queries.tx(session, tx_hash)
            incident = await session.get(Incident, incident_id)
            if fresh is None or incident is None or fresh.state != queries.PENDING:
                return
            fresh.incident_id, fresh.state = incident_id, queries.DONE
            if fresh.kind == queries.APPROVED:
                kind = "chain_watch_approved"
                text = (
                    f"On chain, the approved action (mitigation {fresh.mitigation_id}): "
                    + "; ".join(e["text"] for e in fresh.events)
                    + f", tx {fresh.tx_hash} by {fresh.sender}, block {fresh.block}"
                )
                title = ""
            else:
                kind = "chain_watch_event"
                text = (
                    ("Same attack: " if joined else f"{what}: ")
                    + "; ".join(f"{e['text']} on {e['name']}" for e in fresh.events)
                    + f", by {fresh.sender}, tx {fresh.tx_hash}, block {fresh.block}"
                )
                title = f"🚨 {what}" + (" (same attack)" if joined else "")
            data = {"tx": fresh.tx_hash, "block": fresh.block, "sender": fresh.sender}
            record(session, incident, kind, text, None, data, None, self.clock.now())
            if title and incident.channel_id:
                await self.notice(
                    session,
                    f"tx:{tx_hash}",
                    incident.channel_id,
                    title,
                    self.details(fresh),
                    incident_id=incident.id,
                )
