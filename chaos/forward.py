"""A loopback TCP forwarder the drills own, to stop an outside system as a stopped one is.

The bot's configuration names the forwarder's port as GitHub's (or X's) address; the
forwarder copies bytes both ways to the world's real address. :meth:`Forwarder.stop`
closes the listening socket and every connection it carries, so the port then refuses
connections (ECONNREFUSED), as a stopped service's does; :meth:`Forwarder.start` listens
on the same port again. With :attr:`hang` set, a new connection is accepted and never
answered (nothing is forwarded), as a service that hangs. :meth:`Forwarder.unreachable`
leaves on the port a listener that accepts nothing, its queue full: the kernel drops the
bot's SYN, so its connect hangs, as to a host behind a firewall that drops packets.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

HOST = "127.0.0.1"


class Forwarder:
    def __init__(self) -> None:
        self.port = 0  # chosen by the first start, kept by the next ones
        self.hang = False
        self._target: asyncio.Future[tuple[str, int]] | None = None
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._hole: list[socket.socket] = []  # unreachable(): the listener and its queue

    def aim(self, host: str, port: int) -> None:
        """Where to forward to (a connection taken before this waits for it)."""
        self._future().set_result((host, port))

    def _future(self) -> asyncio.Future[tuple[str, int]]:
        if self._target is None:
            self._target = asyncio.get_running_loop().create_future()
        return self._target

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        self._close_hole()
        self._future()
        self._server = await asyncio.start_server(self._carry, HOST, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """The port closed and every open connection cut: new ones are refused."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()
        if server is not None:
            await server.wait_closed()
        self._close_hole()

    async def unreachable(self) -> None:
        """Stopped, and the port left to a listener whose full queue drops new SYNs."""
        await self.stop()
        self._hole = await asyncio.to_thread(_full_listener, self.port)

    def _close_hole(self) -> None:
        for sock in self._hole:
            sock.close()
        self._hole = []

    async def _carry(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        upstream: asyncio.StreamWriter | None = None
        try:
            if self.hang:
                await reader.read()  # until the bot gives up (its timeout) or stop()
                return
            host, port = await asyncio.wait_for(asyncio.shield(self._future()), 30)
            up_reader, upstream = await asyncio.open_connection(host, port)
            self._open.add(upstream)
            await asyncio.gather(_copy(reader, upstream), _copy(up_reader, writer))
        except (OSError, TimeoutError):
            pass
        finally:
            for end in (writer, upstream):
                if end is not None:
                    self._open.discard(end)
                    end.transport.abort()


async def _copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while chunk := await source.read(65536):
            sink.write(chunk)
            await sink.drain()
    with contextlib.suppress(OSError):
        if sink.can_write_eof():
            sink.write_eof()


def _full_listener(port: int) -> list[socket.socket]:
    """A listener on ``port`` that accepts nothing, and the connections filling its queue."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, port))
    listener.listen(0)
    held = [listener]
    for _ in range(16):
        sock = socket.socket()
        sock.settimeout(0.5)
        try:
            sock.connect((HOST, port))
        except TimeoutError:  # the queue is full: the next SYN is dropped
            sock.close()
            return held
        held.append(sock)
    for sock in held:
        sock.close()
    raise RuntimeError(f"the listener on {port} never filled its queue")
