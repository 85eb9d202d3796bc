"""A lean HTTP/1.1 keep-alive client for the GET load: a connection pool over asyncio
protocols and httptools' C parser (the one uvicorn uses).

httpx costs 1–4 ms of CPU per request on the benchmark machine (2 shared cores): at
300 req/s the load client alone would need a core and its own queueing would be what
the benchmark measures. This client spends a few tens of microseconds per request.
It does only what the benchmark needs: GET, a response body of any framing, reuse of
the connection unless the server says otherwise.
"""

from __future__ import annotations

import asyncio
import collections
from typing import cast

import httptools


class ConnectionClosedError(ConnectionError):
    """The server closed the connection before the whole response came."""


class Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._body: list[bytes] = []
        self._answer: asyncio.Future[tuple[int, bytes]] | None = None
        self.reusable = True

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass of it

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(error)

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        self._fail(exc or ConnectionClosedError("the server closed the connection"))

    # httptools callbacks

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self.reusable = self.reusable and self._parser.should_keep_alive()
        if self._answer is not None and not self._answer.done():
            self._answer.set_result((self._parser.get_status_code(), b"".join(self._body)))

    # ours

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self._body = []
        self._answer = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self._answer

    def usable(self) -> bool:
        return self.reusable and self.transport is not None and not self.transport.is_closing()

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None:
            self.transport.close()

    def _fail(self, error: Exception) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(error)


class HttpPool:
    """Up to `size` keep-alive connections to one host; callers beyond that wait in turn."""

    def __init__(self, host: str, port: int, size: int, timeout_s: float) -> None:
        self.host, self.port, self.size, self.timeout_s = host, port, size, timeout_s
        self._idle: list[Connection] = []
        self._open = 0
        self._waiting: collections.deque[asyncio.Future[Connection | None]] = collections.deque()

    async def get(self, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
        """(status, body); raises OSError, TimeoutError or ConnectionClosedError."""
        lines = [f"GET {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        connection = await self._acquire()
        try:
            answer = await asyncio.wait_for(connection.request(raw), self.timeout_s)
        except BaseException:
            connection.close()
            raise
        finally:
            self._release(connection)
        return answer

    async def _acquire(self) -> Connection:
        while self._idle:
            connection = self._idle.pop()
            if connection.usable():
                return connection
            self._open -= 1  # the server closed it while idle (its keep-alive timeout)
        if self._open < self.size:
            self._open += 1
            try:
                return await self._connect()
            except BaseException:
                self._open -= 1
                self._hand_over(None)
                raise
        turn: asyncio.Future[Connection | None] = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        handed = await turn
        return handed if handed is not None else await self._acquire()

    async def _connect(self) -> Connection:
        loop = asyncio.get_running_loop()
        _transport, connection = await loop.create_connection(Connection, self.host, self.port)
        return connection

    def _release(self, connection: Connection) -> None:
        if connection.reusable:
            self._hand_over(connection)
            return
        self._open -= 1
        self._hand_over(None)  # a waiter may open a new one

    def _hand_over(self, connection: Connection | None) -> None:
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(connection)
                return
        if connection is not None:
            self._idle.append(connection)

    def close(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()
