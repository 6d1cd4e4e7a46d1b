"""The one connection the proxy makes: HTTP/1.1 to `--upstream`, with the request's own bytes.

A small client on asyncio and httptools (the parser uvicorn already runs), rather than httpx
or aiohttp: the request target must go out byte for byte (`%zz`, dot segments, `//`: httpx
normalises or refuses URLs like these), headers in their order with duplicates kept, and it
is the proxy's hot path (bench/results.md has the figures). Connections are kept alive and
reused; one that the upstream closed while idle is retried once on a fresh connection when
nothing of the answer had arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httptools

Headers = list[tuple[bytes, bytes]]


class UpstreamUnavailable(Exception):
    """The upstream could not be reached, or broke the connection (answered with 502)."""


class UpstreamTimeout(Exception):
    """The upstream did not answer in time (answered with 504)."""


@dataclass(frozen=True)
class Upstream:
    """Where requests go: `http://host:port` or `https://…`, nothing after the authority."""

    scheme: str
    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> Upstream:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{url!r} is not an http:// or https:// URL")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(
                f"{url!r} has a path or query: requests keep their own target, give the "
                "upstream's scheme, host and port only"
            )
        if parts.username or parts.password:
            raise ValueError(f"{url!r} carries credentials: give scheme, host and port only")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return cls(parts.scheme, parts.hostname, port)

    @property
    def authority(self) -> str:
        default = 443 if self.scheme == "https" else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"


@dataclass
class Response:
    """An upstream answer: status and headers as received, its body read through `chunks()`."""

    status: int
    reason: bytes
    headers: Headers
    connection: _Connection
    keep_alive: bool = True

    async def chunks(self) -> AsyncIterator[bytes]:
        async for chunk in self.connection.body():
            yield chunk


@dataclass
class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: one exchange at a time, the answer parsed by httptools."""

    pool: Pool
    transport: asyncio.Transport | None = None
    parser: httptools.HttpResponseParser | None = None
    headers: Headers = field(default_factory=list)
    _name: bytes = b""
    head_done: asyncio.Future[None] | None = None
    pieces: list[bytes] = field(default_factory=list)
    more: asyncio.Event = field(default_factory=asyncio.Event)
    complete: bool = False
    error: BaseException | None = None
    received_any: bool = False
    closed: bool = False
    status: int = 0
    for_head: bool = False
    keep_alive: bool = False

    def __hash__(self) -> int:
        return id(self)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.complete:
            return
        framed = any(
            n.lower() in (b"content-length", b"transfer-encoding") for n, _ in self.headers
        )
        if exc is None and self.head_done is not None and self.head_done.done() and not framed:
            self.complete = True  # a body delimited by the close (HTTP/1.0 style): all of it
            self.more.set()
            return
        self._fail(exc or UpstreamUnavailable("the upstream closed the connection"))

    def data_received(self, data: bytes) -> None:
        self.received_any = True
        if self.parser is None:  # bytes while idle: the connection is unusable
            self.close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            pass
        except httptools.HttpParserError as exc:
            self._fail(UpstreamUnavailable(f"the upstream's answer is not HTTP/1.1: {exc}"))
            self.close()

    def _fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        if self.head_done is not None and not self.head_done.done():
            self.head_done.set_exception(
                exc if isinstance(exc, UpstreamUnavailable) else UpstreamUnavailable(str(exc))
            )
        self.more.set()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.headers = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        assert self.parser is not None and self.head_done is not None
        self.status = self.parser.get_status_code()
        if 100 <= self.status < 200 and self.status != 101:
            return  # an interim answer (100 Continue): the real one follows
        # Only meaningful inside the parser's callbacks: it is reset once the message ends.
        self.keep_alive = bool(self.parser.should_keep_alive())
        if not self.head_done.done():
            self.head_done.set_result(None)
        if self.for_head:  # a HEAD answer has no body, whatever Content-Length says
            self.on_message_complete()

    def on_body(self, body: bytes) -> None:
        if self.for_head or self.complete:
            return  # bytes after a HEAD answer are not its body
        self.pieces.append(body)
        self.more.set()

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200 and self.status != 101:
            return
        self.complete = True
        self.more.set()

    async def exchange(self, head: bytes, body: bytes, method: bytes) -> Response:
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        self.parser = httptools.HttpResponseParser(self)
        self.head_done = loop.create_future()
        self.pieces, self.complete, self.error, self.received_any = [], False, None, False
        self.for_head = method == b"HEAD"
        self.more.clear()
        self.transport.write(head + body if len(body) < 65536 else head)
        if len(body) >= 65536:
            self.transport.write(body)
        await self.head_done
        keep_alive = self.keep_alive  # each exchange has a new parser: HEAD included
        return Response(self.status, b"", list(self.headers), self, keep_alive)

    async def body(self) -> AsyncIterator[bytes]:
        while True:
            while self.pieces:
                yield self.pieces.pop(0)
            if self.complete:
                break
            if self.error is not None:
                raise UpstreamUnavailable(str(self.error))
            self.more.clear()
            await self.more.wait()
        self.parser = None
        self.pool.release(self)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Pool:
    """Keep-alive connections to the upstream, opened on demand, reused when idle."""

    def __init__(self, upstream: Upstream, *, connect_timeout: float = 5.0, idle: int = 64) -> None:
        self.upstream = upstream
        self.connect_timeout = connect_timeout
        self.max_idle = idle
        self.idle: list[_Connection] = []
        self.ssl = ssl.create_default_context() if upstream.scheme == "https" else None

    async def _open(self) -> _Connection:
        loop = asyncio.get_running_loop()
        connection = _Connection(self)
        try:
            await asyncio.wait_for(
                loop.create_connection(
                    lambda: connection,
                    self.upstream.host,
                    self.upstream.port,
                    ssl=self.ssl,
                    server_hostname=self.upstream.host if self.ssl else None,
                ),
                self.connect_timeout,
            )
        except (OSError, TimeoutError) as exc:
            raise UpstreamUnavailable(
                f"cannot connect to the upstream {self.upstream.authority}: {exc or 'timed out'}"
            ) from None
        return connection

    def release(self, connection: _Connection) -> None:
        keep = (
            not connection.closed
            and connection.parser is None
            and connection.error is None
            and len(self.idle) < self.max_idle
        )
        if keep:
            self.idle.append(connection)
        else:
            connection.close()

    async def send(self, head: bytes, body: bytes, method: bytes) -> Response:
        """Send one request; UpstreamUnavailable when it cannot be delivered or answered."""
        while self.idle:
            connection = self.idle.pop()
            if connection.closed:
                continue
            try:
                response = await connection.exchange(head, body, method)
            except UpstreamUnavailable:
                connection.close()
                if connection.received_any:
                    raise
                continue  # closed while idle: the request never reached the upstream
            except BaseException:  # cancelled (the upstream timeout): the exchange is lost
                connection.close()
                raise
            return self._kept(response)
        connection = await self._open()
        try:
            return self._kept(await connection.exchange(head, body, method))
        except BaseException:
            connection.close()
            raise

    @staticmethod
    def _kept(response: Response) -> Response:
        if not response.keep_alive:
            response.connection.pool = _Closing()  # type: ignore[assignment]
        return response

    def close(self) -> None:
        for connection in self.idle:
            connection.close()
        self.idle.clear()


class _Closing:
    """Where a connection that must not be reused goes when its answer is read: closed."""

    def release(self, connection: _Connection) -> None:
        connection.close()


async def drain(response: Response) -> None:
    """Read and drop the rest of an answer (so its connection can be reused)."""
    with contextlib.suppress(UpstreamUnavailable):
        async for _chunk in response.chunks():
            pass
