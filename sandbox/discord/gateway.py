"""Gateway v10 over a websocket: JSON text frames, no compression, sessions that RESUME.

Every dispatch is numbered per session and kept in a replay buffer, so a client that
lost its socket and RESUMEs gets exactly what it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from ..faults import Faults
from .state import DiscordState

log = logging.getLogger(__name__)

HELLO, HEARTBEAT, IDENTIFY, RESUME, RECONNECT, REQUEST_MEMBERS, INVALID_SESSION = (
    10,
    1,
    2,
    6,
    7,
    8,
    9,
)
HEARTBEAT_ACK, DISPATCH = 11, 0
HEARTBEAT_INTERVAL_MS = 41250
REPLAY_BUFFER = 5000

# Intent bits (https://discord.com/developers/docs/events/gateway#gateway-intents).
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
GUILD_MESSAGE_REACTIONS = 1 << 10
MESSAGE_CONTENT = 1 << 15
PRIVILEGED = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT
# An ACK a moment after the beat, as over a network: discord.py stamps a beat as sent
# only after its thread sees the send complete, and an ACK handled before that reads as
# "Can't keep up … 41.3s behind".
HEARTBEAT_ACK_DELAY_S = 0.05

EVENT_INTENTS = {
    "CHANNEL_CREATE": GUILDS,
    "CHANNEL_UPDATE": GUILDS,
    "CHANNEL_DELETE": GUILDS,
    "CHANNEL_PINS_UPDATE": GUILDS,
    "THREAD_CREATE": GUILDS,
    "THREAD_UPDATE": GUILDS,
    "THREAD_DELETE": GUILDS,
    "GUILD_ROLE_UPDATE": GUILDS,
    "GUILD_MEMBER_UPDATE": GUILD_MEMBERS,
    "MESSAGE_CREATE": GUILD_MESSAGES,
    "MESSAGE_UPDATE": GUILD_MESSAGES,
    "MESSAGE_DELETE": GUILD_MESSAGES,
    "MESSAGE_DELETE_BULK": GUILD_MESSAGES,
    "MESSAGE_REACTION_ADD": GUILD_MESSAGE_REACTIONS,
    "MESSAGE_REACTION_REMOVE": GUILD_MESSAGE_REACTIONS,
    "MESSAGE_REACTION_REMOVE_ALL": GUILD_MESSAGE_REACTIONS,
    "MESSAGE_REACTION_REMOVE_EMOJI": GUILD_MESSAGE_REACTIONS,
}
CONTENT_FIELDS = {"content": "", "embeds": [], "attachments": [], "components": []}


@dataclass(eq=False)
class Connection:
    ws: web.WebSocketResponse
    outbox: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    session: Session | None = None

    def send(self, frame: str) -> None:
        self.outbox.put_nowait(frame)


@dataclass(eq=False)
class Session:
    id: str
    intents: int
    seq: int = 0
    connection: Connection | None = None
    buffer: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=REPLAY_BUFFER))
    resumes: int = 0

    def wants(self, event: str) -> bool:
        needed = EVENT_INTENTS.get(event)
        return needed is None or bool(self.intents & needed)


class Gateway:
    """Accepts gateway connections and fans every dispatch out to all live sessions."""

    def __init__(self, state: DiscordState, faults: Faults) -> None:
        self.state = state
        self.faults = faults
        self.url = ""
        self.sessions: dict[str, Session] = {}
        self.connections: set[Connection] = set()
        self.identifies = 0
        self.resumes = 0
        self.invalidated = 0
        state.listeners.append(self.dispatch)

    # ------------------------------------------------------------------ dispatch
    def dispatch(self, event: str, data: dict[str, Any]) -> None:
        for session in list(self.sessions.values()):
            if session.wants(event):
                self._send_dispatch(session, event, self._visible(session, event, data))

    def _visible(self, session: Session, event: str, data: dict[str, Any]) -> dict[str, Any]:
        """Without MESSAGE_CONTENT, others' messages arrive with empty content (as on Discord)."""
        if event not in ("MESSAGE_CREATE", "MESSAGE_UPDATE") or session.intents & MESSAGE_CONTENT:
            return data
        bot_id = str(self.state.bot_user.id) if self.state.bot_user else ""
        author = (data.get("author") or {}).get("id")
        mentioned = any(m.get("id") == bot_id for m in data.get("mentions") or [])
        if author == bot_id or mentioned:
            return data
        return {**data, **CONTENT_FIELDS}

    def _send_dispatch(self, session: Session, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        frame = json.dumps({"op": DISPATCH, "t": event, "s": session.seq, "d": data})
        session.buffer.append((session.seq, frame))
        if session.connection is not None:
            session.connection.send(frame)

    # ------------------------------------------------------------------ faults
    def disconnect(self, count: int) -> int:
        """Close up to ``count`` live sockets abnormally (code 4000); returns how many."""
        closed = 0
        for session in list(self.sessions.values()):
            if closed >= count:
                break
            if session.connection is not None:
                self._drop(session.connection, 4000, b"sandbox: injected disconnect")
                closed += 1
        return closed

    def reconnect(self, count: int) -> int:
        """Send op 7 RECONNECT to up to ``count`` live sessions."""
        sent = 0
        for session in list(self.sessions.values()):
            if sent < count and session.connection is not None:
                session.connection.send(json.dumps({"op": RECONNECT, "d": None}))
                sent += 1
        return sent

    def _drop(self, connection: Connection, code: int, message: bytes) -> None:
        if connection.session is not None and connection.session.connection is connection:
            connection.session.connection = None
        connection.outbox.put_nowait(None)
        asyncio.get_running_loop().create_task(connection.ws.close(code=code, message=message))

    async def close_all(self) -> None:
        for connection in list(self.connections):
            with contextlib.suppress(Exception):
                await connection.ws.close(code=1001, message=b"sandbox stopping")

    def describe(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "identifies": self.identifies,
            "resumes": self.resumes,
            "invalidated": self.invalidated,
            "sessions": [
                {
                    "session_id": s.id,
                    "connected": s.connection is not None,
                    "seq": s.seq,
                    "intents": s.intents,
                    "resumes": s.resumes,
                }
                for s in self.sessions.values()
            ],
        }

    # ------------------------------------------------------------------ socket
    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        connection = Connection(ws=ws)
        self.connections.add(connection)
        writer = asyncio.create_task(self._writer(connection))
        connection.send(
            json.dumps({"op": HELLO, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}})
        )
        try:
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    if message.type is WSMsgType.BINARY:
                        await ws.close(code=4002, message=b"Decode error.")
                    break
                try:
                    frame = json.loads(message.data)
                except ValueError:
                    await ws.close(code=4002, message=b"Decode error.")
                    break
                await self._receive(connection, frame)
        finally:
            self.connections.discard(connection)
            session = connection.session
            if session is not None and session.connection is connection:
                session.connection = None
                if ws.close_code in (1000, 1001):
                    # A clean close ends the session, as on Discord.
                    self.sessions.pop(session.id, None)
            connection.outbox.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

    async def _writer(self, connection: Connection) -> None:
        while True:
            frame = await connection.outbox.get()
            if frame is None or connection.ws.closed:
                return
            try:
                await connection.ws.send_str(frame)
            except (ConnectionError, RuntimeError):
                return

    async def _receive(self, connection: Connection, frame: dict[str, Any]) -> None:
        op = frame.get("op")
        data = frame.get("d")
        if op == HEARTBEAT:
            ack = json.dumps({"op": HEARTBEAT_ACK})
            asyncio.get_running_loop().call_later(HEARTBEAT_ACK_DELAY_S, connection.send, ack)
        elif op == IDENTIFY:
            await self._identify(connection, data or {})
        elif op == RESUME:
            await self._resume(connection, data or {})
        elif op == REQUEST_MEMBERS:
            self._request_members(connection, data or {})
        elif op in (3, 4):  # presence update, voice state: accepted and ignored
            return
        else:
            await connection.ws.close(code=4001, message=b"Unknown opcode.")

    def _token_ok(self, token: Any) -> bool:
        return isinstance(token, str) and token.removeprefix("Bot ") == self.state.bot_token

    async def _identify(self, connection: Connection, data: dict[str, Any]) -> None:
        if not self._token_ok(data.get("token")):
            await connection.ws.close(code=4004, message=b"Authentication failed.")
            return
        if connection.session is not None:
            await connection.ws.close(code=4005, message=b"Already authenticated.")
            return
        if self.faults.take_gateway("invalid_session"):
            self.invalidated += 1
            connection.send(json.dumps({"op": INVALID_SESSION, "d": False}))
            return
        intents = int(data.get("intents") or 0)
        if intents & PRIVILEGED & ~self.state.privileged_intents:
            await connection.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        self.identifies += 1
        session = Session(id=secrets.token_hex(16), intents=intents)
        self.sessions[session.id] = session
        session.connection = connection
        connection.session = session
        state = self.state
        assert state.bot_user is not None
        ready = {
            "v": 10,
            "user": {
                **state.bot_user.payload(),
                "verified": True,
                "mfa_enabled": False,
                "email": None,
            },
            "guilds": [{"id": str(state.the_guild.id), "unavailable": True}],
            "session_id": session.id,
            "resume_gateway_url": self.url,
            "session_type": "normal",
            "application": {"id": str(state.application_id), "flags": state.application_flags()},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "_trace": ["sandbox-gateway"],
        }
        if "shard" in data:
            ready["shard"] = data["shard"]
        self._send_dispatch(session, "READY", ready)
        # Without the presences intent Discord sends only the bot's own member: discord.py
        # asks for the rest (op 8, answered with GUILD_MEMBERS_CHUNK).
        everyone = GUILD_MEMBERS | GUILD_PRESENCES
        guild = state.guild_payload(
            for_gateway=True, with_members=session.intents & everyone == everyone
        )
        self._send_dispatch(session, "GUILD_CREATE", guild)
        self._after_connect(session)

    async def _resume(self, connection: Connection, data: dict[str, Any]) -> None:
        if not self._token_ok(data.get("token")):
            await connection.ws.close(code=4004, message=b"Authentication failed.")
            return
        session = self.sessions.get(str(data.get("session_id")))
        seq = int(data.get("seq") or 0)
        replay = [] if session is None else [f for s, f in session.buffer if s > seq]
        complete = session is not None and (
            seq >= session.seq or (session.buffer and session.buffer[0][0] <= seq + 1)
        )
        if self.faults.take_gateway("invalid_session") or session is None or not complete:
            if session is not None:
                self.sessions.pop(session.id, None)
            self.invalidated += 1
            connection.send(json.dumps({"op": INVALID_SESSION, "d": False}))
            return
        if session.connection is not None and session.connection is not connection:
            self._drop(session.connection, 4000, b"sandbox: session resumed elsewhere")
        self.resumes += 1
        session.resumes += 1
        session.connection = connection
        connection.session = session
        for frame in replay:
            connection.send(frame)
        self._send_dispatch(session, "RESUMED", {"_trace": ["sandbox-gateway"]})
        self._after_connect(session)

    def _after_connect(self, session: Session) -> None:
        if session.connection is None:
            return
        if self.faults.take_gateway("disconnect"):
            self._drop(session.connection, 4000, b"sandbox: injected disconnect")
        elif self.faults.take_gateway("reconnect"):
            session.connection.send(json.dumps({"op": RECONNECT, "d": None}))

    def _request_members(self, connection: Connection, data: dict[str, Any]) -> None:
        session = connection.session
        if session is None:
            return
        guild = self.state.the_guild
        members = list(guild.members.values())
        wanted = data.get("user_ids")
        if wanted is not None:
            ids = {int(u) for u in (wanted if isinstance(wanted, list) else [wanted])}
            members = [m for m in members if m.user.id in ids]
        query = (data.get("query") or "").lower()
        if query:
            members = [m for m in members if m.user.username.lower().startswith(query)]
        limit = int(data.get("limit") or 0)
        if limit:
            members = members[:limit]
        chunk = {
            "guild_id": str(guild.id),
            "members": [m.payload() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        self._send_dispatch(session, "GUILD_MEMBERS_CHUNK", chunk)
