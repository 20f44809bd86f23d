"""The chain watch's rules, as plain functions: which events it decodes and how, whether a
transaction is an action approved through the bot, which incident an unauthorized one joins,
the next block range to read, reorgs, and the outflow rule. No I/O here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from eth_abi import decode
from eth_utils import keccak, to_checksum_address


@dataclass(frozen=True)
class EventSpec:
    signature: str
    names: tuple[str, ...]
    indexed: tuple[bool, ...]

    @property
    def types(self) -> list[str]:
        inner = self.signature[self.signature.index("(") + 1 : -1]
        return [t for t in inner.split(",") if t]

    @property
    def name(self) -> str:
        return self.signature[: self.signature.index("(")]

    @property
    def topic(self) -> bytes:
        return bytes(keccak(text=self.signature))


def _spec(signature: str, *params: str) -> EventSpec:
    """``"*account"``: an indexed parameter named ``account``."""
    return EventSpec(
        signature,
        tuple(p.lstrip("*") for p in params),
        tuple(p.startswith("*") for p in params),
    )


TRANSFER = "Transfer(address,address,uint256)"
EVENTS: dict[str, EventSpec] = {
    s.signature: s
    for s in (
        _spec("Paused(address)", "account"),
        _spec("Unpaused(address)", "account"),
        _spec("OwnershipTransferred(address,address)", "*previousOwner", "*newOwner"),
        _spec("RoleGranted(bytes32,address,address)", "*role", "*account", "*sender"),
        _spec("RoleRevoked(bytes32,address,address)", "*role", "*account", "*sender"),
        _spec("Upgraded(address)", "*implementation"),
        _spec("AdminChanged(address,address)", "previousAdmin", "newAdmin"),
        _spec("AddedOwner(address)", "*owner"),
        _spec("RemovedOwner(address)", "*owner"),
        _spec("ChangedThreshold(uint256)", "threshold"),
        _spec("ExecutionSuccess(bytes32,uint256)", "*txHash", "payment"),
        _spec(
            "CallScheduled(bytes32,uint256,address,uint256,bytes,bytes32,uint256)",
            "*id",
            "*index",
            "target",
            "value",
            "data",
            "predecessor",
            "delay",
        ),
        _spec(TRANSFER, "*from", "*to", "value"),
    )
}
BY_TOPIC: dict[bytes, EventSpec] = {s.topic: s for s in EVENTS.values()}
EXECUTION_SUCCESS = EVENTS["ExecutionSuccess(bytes32,uint256)"].topic
TRANSFER_TOPIC = EVENTS[TRANSFER].topic


def address_word(address: str) -> bytes:
    """An address as an indexed topic holds it (32 bytes, left-padded)."""
    return bytes(12) + bytes.fromhex(address.removeprefix("0x"))


class Undecodable(ValueError):
    """A log with a watched topic whose shape is not the event's (another contract's event
    with the same topic, or a malformed answer)."""


def hexbytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        return bytes.fromhex(value.removeprefix("0x"))
    raise Undecodable(f"{value!r} is not bytes")


def _show(kind: str, value: Any) -> Any:
    if kind == "address":
        return to_checksum_address(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value


def decode_log(topics: Sequence[Any], data: Any) -> tuple[EventSpec, dict[str, Any]]:
    """The event and its arguments; Undecodable when the topics or the data do not fit it."""
    if not topics:
        raise Undecodable("an anonymous log (no topics)")
    spec = BY_TOPIC.get(hexbytes(topics[0]))
    if spec is None:
        raise Undecodable(f"topic 0x{hexbytes(topics[0]).hex()} is not a watched event")
    types = spec.types
    wanted = sum(spec.indexed)
    if len(topics) - 1 != wanted:
        raise Undecodable(
            f"{spec.signature} has {wanted} indexed argument(s), the log has {len(topics) - 1}"
        )
    raw = hexbytes(data)
    plain = [t for t, i in zip(types, spec.indexed, strict=True) if not i]
    try:
        values = list(decode(plain, raw)) if plain else []
    except Exception as error:
        raise Undecodable(f"{spec.signature}'s data does not decode ({error})") from None
    if not plain and raw:
        raise Undecodable(f"{spec.signature} carries no data, the log has {len(raw)} bytes")
    args: dict[str, Any] = {}
    topic_values = iter(topics[1:])
    plain_values = iter(values)
    for name, kind, indexed in zip(spec.names, types, spec.indexed, strict=True):
        if indexed:
            word = hexbytes(next(topic_values))
            if len(word) != 32:
                raise Undecodable(f"{spec.signature}: topic {name} is not 32 bytes")
            (value,) = decode([kind], word) if kind != "bytes" else (word,)
        else:
            value = next(plain_values)
        args[name] = _show(kind, value)
    return spec, args


def describe(spec: EventSpec, args: Mapping[str, Any]) -> str:
    inner = ", ".join(f"{k}={v}" for k, v in args.items())
    return f"{spec.name}({inner})"


# -- classification ------------------------------------------------------------------------
@dataclass(frozen=True)
class Approved:
    """An action approved through the bot: its target and calldata, or the Safe tx it showed."""

    mitigation_id: int
    incident_id: int
    target: str
    calldata: str
    safe_tx_hash: str | None = None


def approved_match(
    to: str | None,
    calldata: bytes,
    receipt_logs: Iterable[tuple[str, Sequence[Any]]],
    approved: Iterable[Approved],
) -> Approved | None:
    """The approved action this transaction carries out, or None: its target and calldata,
    or a Safe's ``ExecutionSuccess`` of the safeTxHash the bot showed."""
    successes = {
        (address.lower(), hexbytes(topics[1]))
        for address, topics in receipt_logs
        if len(topics) >= 2 and hexbytes(topics[0]) == EXECUTION_SUCCESS
    }
    for action in approved:
        if to and to.lower() == action.target.lower() and calldata == hexbytes(action.calldata):
            return action
        if action.safe_tx_hash and any(h == hexbytes(action.safe_tx_hash) for _, h in successes):
            return action
    return None


@dataclass(frozen=True)
class Attack:
    """An unauthorized transaction already declared: the incident later ones may join."""

    incident_id: int
    sender: str
    contracts: frozenset[str]
    at: datetime  # the block's time


def same_attack(
    sender: str,
    contracts: Iterable[str],
    at: datetime,
    recent: Iterable[Attack],
    window: timedelta,
) -> int | None:
    """The incident of an attack this transaction belongs to: the same sender or a contract
    already hit, within ``window`` of it (block times). The latest one wins."""
    hit = {c.lower() for c in contracts}
    best: Attack | None = None
    for attack in recent:
        close = abs(at - attack.at) <= window
        related = attack.sender.lower() == sender.lower() or bool(
            hit & {c.lower() for c in attack.contracts}
        )
        if close and related and (best is None or attack.at > best.at):
            best = attack
    return best.incident_id if best else None


# -- reading ranges ------------------------------------------------------------------------
def next_range(cursor: int, head: int, confirmations: int, span: int) -> tuple[int, int] | None:
    """The blocks to read after ``cursor``: at most ``span`` of them, none closer to the head
    than ``confirmations``. None: nothing new is confirmed yet."""
    last_safe = head - confirmations
    first = cursor + 1
    if last_safe < first:
        return None
    return first, min(last_safe, first + span - 1)


def behind(cursor: int, head: int, confirmations: int, limit: int) -> int:
    """How many confirmed blocks are not read yet, when that is more than ``limit`` (else 0)."""
    lag = head - confirmations - cursor
    return lag if lag > limit else 0


def rewind_to(cursor: int, depth: int, origin: int | None = None) -> int:
    """Where the cursor goes back to after a reorg: ``depth`` blocks, never before the
    watch's ``origin`` (the block before the first it read) nor below 0."""
    return max(0, cursor - depth, origin or 0)


@dataclass(frozen=True)
class RawLog:
    address: str
    topics: tuple[bytes, ...]
    data: bytes
    block: int
    block_hash: str
    tx_hash: str
    index: int
    removed: bool = False


@dataclass(frozen=True)
class Problem:
    """Something the watch refused or could not read, said once per ``cause`` (a stable key:
    the same cause seen again is not said again)."""

    cause: str
    text: str

    def __str__(self) -> str:
        return self.text


def undecodable(raw: RawLog, error: Undecodable, name: str, link: str) -> Problem:
    """A log with a watched topic that does not decode: said once per contract and topic."""
    topic = "0x" + raw.topics[0].hex() if raw.topics else "none"
    spec = BY_TOPIC.get(raw.topics[0]) if raw.topics else None
    return Problem(
        f"undecodable:{raw.address.lower()}:{topic}",
        f"Log {raw.index} of tx {raw.tx_hash} (block {raw.block}) on **{name}** "
        f"({raw.address}) has the topic of {spec.signature if spec else topic} but does "
        f"not decode as it: {error}. Probably another contract's event with the same "
        "topic: it is not counted as that event and declares nothing. Said once for this "
        f"contract and topic.\n{link}",
    )


@dataclass
class Screened:
    """A batch of logs, cleaned: the ones to apply, and what was refused and why."""

    logs: list[RawLog] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def screen(
    logs: Iterable[RawLog],
    first: int,
    last: int,
    watched: Mapping[str, set[bytes]],
    vaults: Mapping[str, set[bytes]] | None = None,
) -> Screened:
    """Drop what the RPC should not have answered, each said: a log outside the range asked
    for, from a contract or topic not asked for, flagged removed, or a duplicate. A token's
    ``Transfer`` that is not out of one of its ``vaults`` (token → address words) is an
    ordinary transfer: dropped, unsaid."""
    out = Screened()
    seen: set[tuple[str, int]] = set()
    for log in logs:
        where = f"log {log.index} of tx {log.tx_hash}"
        topics = watched.get(log.address.lower())
        sources = (vaults or {}).get(log.address.lower())
        if log.removed:
            out.problems.append(Problem("rpc:removed", f"{where}: the RPC flagged it removed"))
        elif not first <= log.block <= last:
            text = f"{where}: block {log.block} is outside {first}..{last}"
            out.problems.append(Problem("rpc:outside", text))
        elif topics is None or not log.topics or log.topics[0] not in topics:
            text = f"{where}: not a watched contract and event"
            out.problems.append(Problem("rpc:unwatched", text))
        elif (log.tx_hash, log.index) in seen:
            out.problems.append(Problem("rpc:duplicate", f"{where}: duplicated in the answer"))
        elif (
            sources is not None
            and log.topics[0] == TRANSFER_TOPIC
            and len(log.topics) >= 2
            and log.topics[1] not in sources
        ):
            continue  # a transfer of the token that is not out of a watched vault
        else:
            seen.add((log.tx_hash, log.index))
            out.logs.append(log)
    return out


# -- outflows ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outflow:
    """A ``[[watch.outflows]]`` rule with its addresses resolved (``index``: its place in
    the list, as the stored transfers name it)."""

    index: int
    token: str
    vault: str
    limit: int
    window: timedelta
    token_name: str
    vault_name: str
    decimals: int | None = None  # the token's; None: amounts in its smallest unit


def token_amount(value: int, decimals: int | None) -> str:
    """An amount as a person reads it: in tokens, grouped by thousands, when the token's
    decimals are known (``1,100.5``); in the smallest unit, as digits, when not."""
    if decimals is None:
        return str(value)
    whole, fraction = divmod(value, 10**decimals)
    digits = str(fraction).rjust(decimals, "0").rstrip("0") if decimals else ""
    return f"{whole:,}" + (f".{digits}" if digits else "")


def outflow_rule(rules: Iterable[Outflow], token: str, args: Mapping[str, Any]) -> Outflow | None:
    """The rule a decoded ``Transfer`` of ``token`` counts for: out of that rule's vault."""
    source = str(args.get("from", "")).lower()
    for rule in rules:
        if rule.token.lower() == token.lower() and rule.vault.lower() == source:
            return rule
    return None


def outflow_total(
    transfers: Iterable[tuple[datetime, int]], at: datetime, window: timedelta
) -> int:
    """What left the vault in the ``window`` ending at ``at``."""
    return sum(value for when, value in transfers if at - window < when <= at)


def over_limit(total: int, limit: int) -> bool:
    return total > limit


def outflow_text(total: int, rule: Outflow, window: str) -> str:
    """The outflow's line: the total, of what, out of where, within what, over what limit."""
    if rule.decimals is None:
        return (
            f"{total} of {rule.token_name} out of {rule.vault_name} within {window}, over the "
            f"limit {rule.limit} (in the token's smallest unit)"
        )
    total_text, limit_text = (token_amount(v, rule.decimals) for v in (total, rule.limit))
    return (
        f"{total_text} {rule.token_name} out of {rule.vault_name} within {window}, over the "
        f"limit {limit_text}"
    )


def headline(event: dict[str, Any]) -> str:
    """The first event, as a declaration's summary names it."""
    return event["text"] if event["event"] == "outflow" else f"{event['text']} on {event['name']}"


def resolve(value: str, names: dict[str, str]) -> str | None:
    """An address as configured: itself, or the address its name stands for (None: unset)."""
    return value if value.startswith("0x") else names.get(value)
