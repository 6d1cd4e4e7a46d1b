"""uvicorn's httptools protocol with the bounds h11 had: the one uvicorn internal.

httptools (llhttp) is uvicorn's fast HTTP/1.1 parser; h11 cost `craftkit serve` about a
quarter of its throughput on the bench (bench/results.md). But uvicorn's httptools protocol
bounds nothing: it reads a request head of any size, parses every request pipelined in a read
(hundreds of thousands queued within seconds), and reads on through bodies and trailers after
the answer. So serve runs this subclass (uvicorn's `http=` option takes a class path):

- reads are parsed a 4 KiB piece at a time, and a head still unfinished after a piece is
  counted (in the piece where it began, what the parser has handed over of it, so at most a
  piece short; each later piece whole). Past `SERVER_HEAD_BYTES` the client gets a 431
  envelope (414 while the request target alone is that long) and the connection is closed.
  Heads within the bound go on to api/protocol/guards.py, whose bounds are smaller;
- a request pipelined behind one being answered waits unparsed, as with h11: no more is read
  until its turn, and past 1 MiB kept the connection is cut;
- no operation takes a body: a request that declares one (and an upgrade, served as plain
  HTTP) gets its answer (api/protocol/guards.py's 413) and the connection closes, nothing more read;
- a request the parser rejects gets the 400 envelope instead of uvicorn's plain text; when
  the request before it is still being answered, that answer is sent, then the close;
- what RFC 9112 refuses and httptools lets through is refused too: an HTTP/1.1 request with no
  `Host` or with two (400), two `Host` on HTTP/1.0 (400), a request line without a version
  (HTTP/0.9, 400), HTTP/2.0 sent as text (505); a method the parser does not know is 501;
- time bounds: a connection with no request in progress (new, or kept alive) closes after
  `idle_timeout` (uvicorn's keep-alive timer, armed at connect too: uvicorn armed it only
  after a first answer), and a request head must be whole within `head_timeout` of its first
  byte, or 408 and the close (a client dripping a byte a second held its socket forever);
- each refusal carries `Date` and an `X-Request-ID`, as the app's answers do.

The timeouts and whether requests may carry bodies come from the uvicorn config
(api/protocol/server.py's `BoundedConfig`). The subclass overrides `connection_made`,
`connection_lost`, `data_received`, `on_response_complete`, `on_message_begin`,
`on_headers_complete`, `send_400_response` and `_unsupported_upgrade_warning`; it reads
`url`, `headers`, `cycle`, `pipeline`, `parser`, `flow`, `transport`, `config`, `loop`,
`timeout_keep_alive`, `timeout_keep_alive_task` and `timeout_keep_alive_handler` and sets the
cycle's `keep_alive`. tests/test_uvicorn_shim.py checks each against the installed uvicorn and
says which moved; pyproject.toml pins the uvicorn range these were tested on.

`supervise(config)` is `uvicorn.run` for a config built elsewhere (api/protocol/server.py):
`uvicorn.run` builds its own, and its reloader and worker supervisors are internals.

`ProxyHttpToolsProtocol` (craftkit proxy) also overrides `_should_upgrade` and
`handle_websocket_upgrade` (a WebSocket upgrade tunnelled to the upstream) and reads `scope`,
`connections`, `loop`, `client` and `scheme`.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

import httptools
import orjson
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import ChangeReload, Multiprocess

from api.protocol import bounds

TOKEN = re.compile(rb"[A-Za-z0-9!#$%&'*+.^_`|~-]+")  # RFC 9110 §5.6.2: what a method is
PIECE = 4096  # bytes parsed at a time: a head is never counted short by more
UNPARSED_LIMIT = 1024 * 1024  # bytes kept behind a waiting request before the connection is cut
PROTOCOL = "api.protocol.uvicorn_shim:BoundedHttpToolsProtocol"  # uvicorn's `http=` option, by path


def error_response(status: int, code: str, message: str) -> bytes:
    """A whole HTTP/1.1 answer in the contract's envelope that closes the connection."""
    body = orjson.dumps({"error": {"code": code, "message": message}})
    reason = {
        400: b"Bad Request",
        408: b"Request Timeout",
        414: b"URI Too Long",
        431: b"Request Header Fields Too Large",
        501: b"Not Implemented",
        502: b"Bad Gateway",
        505: b"HTTP Version Not Supported",
    }
    return b"".join(
        [
            b"HTTP/1.1 %d %s\r\n" % (status, reason[status]),
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
            body,
        ]
    )


HEAD_TOO_LARGE = error_response(
    431,
    "headers_too_large",
    f"The request head is larger than {bounds.SERVER_HEAD_BYTES} bytes.",
)
TARGET_TOO_LONG = error_response(
    414, "uri_too_long", f"The request target is longer than {bounds.REQUEST_TARGET.limit} bytes."
)
INVALID_REQUEST = error_response(400, "invalid_request", "Invalid HTTP request received.")
NO_HOST = error_response(400, "invalid_request", "Send exactly one Host header (RFC 9112 §3.2).")
NO_VERSION = error_response(
    400, "invalid_request", "The request line needs a version: HTTP/1.1 or HTTP/1.0."
)
VERSION_NOT_SUPPORTED = error_response(
    505, "http_version_not_supported", "This server speaks HTTP/1.1 and HTTP/1.0."
)
UNKNOWN_METHOD = error_response(501, "not_implemented", "Unknown request method.")
HEAD_TIMEOUT = error_response(
    408, "request_timeout", "The request head did not arrive in time; send it whole."
)
UPSTREAM_DOWN = error_response(502, "bad_gateway", "The upstream cannot be reached.")
HEAD_TIMEOUT_SECONDS = 10.0  # when the config names none (api/protocol/server.py does)


def stamped(answer: bytes) -> bytes:
    """`answer` with the headers every answer carries: `Date` and a new `X-Request-ID`."""
    status_line, _, rest = answer.partition(b"\r\n")
    return b"%s\r\ndate: %s\r\nx-request-id: %s\r\n%s" % (
        status_line,
        formatdate(usegmt=True).encode(),
        str(uuid.uuid4()).encode(),
        rest,
    )


class _Refused(Exception):
    """Raised from a parser callback to stop parsing a head the shim refuses."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    head_limit = bounds.SERVER_HEAD_BYTES

    # Per connection: whether the parser is inside a request head, whether that head began in
    # the piece being parsed, and its bytes so far; bytes read but not parsed yet (behind a
    # request waiting for its turn); whether nothing more is to be read; the head's timer and
    # the answer a parser callback chose for a head it refused.
    in_head = False
    head_began = False
    head_bytes = 0
    unparsed: bytearray | None = None
    done_reading = False
    head_timer: asyncio.TimerHandle | None = None
    refusal: bytes | None = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        # Idle from the start: uvicorn's keep-alive timer, which it arms only after an answer.
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def _start_head_timer(self) -> None:
        if self.head_timer is None:
            seconds = getattr(self.config, "head_timeout", HEAD_TIMEOUT_SECONDS)
            self.head_timer = self.loop.call_later(seconds, self._head_too_slow)

    def _stop_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_too_slow(self) -> None:
        self.head_timer = None
        if not self.transport.is_closing():
            self.refuse(HEAD_TIMEOUT)

    def data_received(self, data: bytes) -> None:
        if self.done_reading:
            return
        if not self.pipeline and (self.cycle is None or self.cycle.response_complete):
            self._start_head_timer()  # bytes with no request in progress: a head has begun
        if self.unparsed is not None or self.pipeline:
            # A request waits for the one before it: keep the bytes, read no more meanwhile.
            if self.unparsed is None:
                self.unparsed = bytearray()
            self.unparsed += data
            self.flow.pause_reading()
            if len(self.unparsed) > UNPARSED_LIMIT:
                self.refuse(HEAD_TOO_LARGE)
            return
        self.parse(data)

    def parse(self, data: bytes | bytearray) -> None:
        """Feed the parser a piece at a time, counting an unfinished head after each piece;
        stop once a request has to wait for the one before it (pipelining)."""
        view = memoryview(data)
        for start in range(0, len(view), PIECE):
            piece = view[start : start + PIECE]
            self.head_began = False
            self.feed(piece)
            if self.done_reading or self.transport.is_closing():
                return
            if self.in_head:
                if self.head_began:  # what the parser has handed over of it
                    self.head_bytes = len(self.url) + sum(len(n) + len(v) for n, v in self.headers)
                else:  # the whole piece carries on a head begun in an earlier one
                    self.head_bytes += len(piece)
                if self.head_bytes > self.head_limit:
                    too_long = len(self.url) > bounds.REQUEST_TARGET.limit
                    self.refuse(TARGET_TOO_LONG if too_long else HEAD_TOO_LARGE)
                    return
            if self.pipeline:
                rest = view[start + PIECE :]
                if rest:
                    self.unparsed = bytearray(rest)
                self.flow.pause_reading()
                return

    def feed(self, piece: memoryview) -> None:
        """uvicorn's `data_received`, telling an unknown method (501) from other errors."""
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(piece)  # type: ignore[arg-type]  # httptools takes buffers
        except httptools.HttpParserInvalidMethodError:
            # A method-shaped token the parser does not know is 501; bytes that are no token
            # at all (garbage, a TLS handshake) are a malformed request.
            word = bytes(piece).lstrip(b"\r\n").split(b" ", 1)[0]
            self.refuse(UNKNOWN_METHOD if TOKEN.fullmatch(word) else INVALID_REQUEST)
        except httptools.HttpParserError:
            self.refuse(self.refusal or INVALID_REQUEST)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():  # the proxy's WebSocket tunnel
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()  # ws="none": served as plain HTTP

    def on_response_complete(self) -> None:
        """uvicorn starts the next waiting request or resumes reading; the bytes kept behind
        the last one are parsed first."""
        super().on_response_complete()
        if self.unparsed is not None and not self.pipeline and not self.transport.is_closing():
            data, self.unparsed = self.unparsed, None
            self.parse(data)
        if self.unparsed is not None:
            self.flow.pause_reading()  # uvicorn resumed reading: not while bytes wait here

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._start_head_timer()  # a pipelined head parsed later has its own time too
        self.in_head = True
        # A piece that ends heads and begins another (pipelining) is not all this head's bytes.
        self.head_began = True

    def on_headers_complete(self) -> None:
        self.in_head = False
        self._stop_head_timer()
        refusal = self._refusal()
        if refusal is not None:
            self.refusal = refusal
            raise _Refused  # httptools stops and raises HttpParserError: `feed` refuses
        super().on_headers_complete()
        if self.cycle is None:
            return
        takes_bodies = getattr(self.config, "takes_bodies", bounds.BODY.limit > 0)
        if self.parser.should_upgrade() or (
            not takes_bodies and any(_declares_body(n, v) for n, v in self.headers)
        ):
            # No operation takes a body (api/protocol/guards.py answers 413) and an upgrade is
            # served as plain HTTP: answer this request, then close, reading nothing more (not a
            # body, nor trailers nothing would count, nor a request pipelined behind an upgrade).
            self.cycle.keep_alive = False
            self.done_reading = True

    def _refusal(self) -> bytes | None:
        """What RFC 9112 refuses that the parser lets through, decided on a whole head."""
        version = self.parser.get_http_version()
        if version == "0.9":  # what llhttp makes of a request line without a version
            return NO_VERSION
        if version not in ("1.1", "1.0"):
            return VERSION_NOT_SUPPORTED
        hosts = sum(1 for name, _ in self.headers if name == b"host")
        if hosts > 1 or (hosts == 0 and version == "1.1"):
            return NO_HOST
        return None

    def _unsupported_upgrade_warning(self) -> None:
        """An `Upgrade` request is served as plain HTTP (serve runs with `ws="none"`: the API
        has no WebSocket); uvicorn's two warnings a request, one telling to install a
        WebSocket library, would be noise any client could make. The request log has it."""

    def send_400_response(self, msg: str) -> None:
        """The parser refused the bytes (uvicorn logged `msg`): the 400 envelope."""
        self.refuse(INVALID_REQUEST)

    def refuse(self, answer: bytes) -> None:
        """Answer and close. While a request is being answered (a pipelined head went bad
        behind it) that answer is sent first and the connection closed after it."""
        self.in_head = False
        self.done_reading = True
        self.unparsed = None
        self._stop_head_timer()
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            self.transport.write(stamped(answer))
            self.transport.close()
            return
        cycle.keep_alive = False  # uvicorn closes the connection once this answer is sent
        self.flow.pause_reading()


@dataclass
class Tunnel:
    """Where `craftkit proxy` tunnels WebSocket upgrades: the upstream, and whom to tell."""

    host: str
    port: int
    ssl: ssl.SSLContext | None = None
    opened: Callable[[], None] | None = None  # counts the upgrade in the proxy's record


class ProxyHttpToolsProtocol(BoundedHttpToolsProtocol):
    """`craftkit proxy`'s protocol: the same bounds on heads, request bodies read (the app
    bounds them), and the request target as received handed to the app in the scope's
    extensions (`TARGET_EXTENSION`): uvicorn's scope keeps only the path and query of an
    absolute-form target (`GET http://elsewhere/x`), which the proxy must refuse, not forward.

    A WebSocket upgrade (origin-form target) is tunnelled to `tunnel` byte for byte, head
    included, as uvicorn hands an upgrade to its WebSocket protocol (overriding
    `_should_upgrade` and `handle_websocket_upgrade`): not validated, counted. `tunnel` is set by
    `craftkit proxy` before uvicorn starts (uvicorn instantiates the protocol itself).
    """

    tunnel: Tunnel | None = None
    tunnelling = False

    def on_headers_complete(self) -> None:
        if self.tunnel is not None and self.parser.should_upgrade() and self._websocket():
            self.in_head = False
            self.done_reading = True  # the tunnel reads from now on
            self.tunnelling = True
            return
        super().on_headers_complete()
        if self.cycle is not None and self.cycle.scope is self.scope:
            extensions: dict[str, object] = self.scope.setdefault("extensions", {})  # type: ignore[assignment]
            extensions[TARGET_EXTENSION] = bytes(self.url)

    def _websocket(self) -> bool:
        upgrade = [v for n, v in self.headers if n == b"upgrade"]
        return bool(upgrade) and upgrade[0].strip().lower() == b"websocket" and self.url[:1] == b"/"

    def _should_upgrade(self) -> bool:
        return self.tunnelling

    def handle_websocket_upgrade(self) -> None:
        """The upgrade request goes upstream as received (plus X-Forwarded-*); from then on,
        bytes are copied both ways until either side closes."""
        assert self.tunnel is not None
        # The tunnel is no request: neither the head timeout nor the idle one applies to it.
        self._stop_head_timer()
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None
        self.connections.discard(self)
        method = self.parser.get_method()
        lines = [method + b" " + bytes(self.url) + b" HTTP/1.1"]
        lines += [name + b": " + value for name, value in self.headers]
        if self.client:
            lines.append(b"x-forwarded-for: " + str(self.client[0]).encode())
        lines.append(b"x-forwarded-proto: " + (self.scheme or "http").encode())
        head = b"\r\n".join(lines) + b"\r\n\r\n"
        self.transport.pause_reading()
        if self.tunnel.opened is not None:
            self.tunnel.opened()
        task = self.loop.create_task(_open_tunnel(self.tunnel, self.transport, head))
        _TUNNELS.add(task)
        task.add_done_callback(_TUNNELS.discard)


_TUNNELS: set[asyncio.Task[None]] = set()


class _Pipe(asyncio.Protocol):
    """One side of a tunnel: what it reads is written to the other side's transport."""

    def __init__(self, other: asyncio.BaseTransport | None = None) -> None:
        self.other = other

    def data_received(self, data: bytes) -> None:
        if self.other is not None:
            self.other.write(data)  # type: ignore[attr-defined]

    def eof_received(self) -> bool | None:
        if self.other is not None:
            self.other.close()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.other is not None:
            self.other.close()


async def _open_tunnel(tunnel: Tunnel, client: asyncio.BaseTransport, head: bytes) -> None:
    loop = asyncio.get_running_loop()
    try:
        upstream, _ = await loop.create_connection(
            lambda: _Pipe(client),
            tunnel.host,
            tunnel.port,
            ssl=tunnel.ssl,
            server_hostname=tunnel.host if tunnel.ssl else None,
        )
    except OSError:
        client.write(UPSTREAM_DOWN)  # type: ignore[attr-defined]
        client.close()
        return
    client.set_protocol(_Pipe(upstream))
    upstream.write(head)  # type: ignore[attr-defined]
    client.resume_reading()  # type: ignore[attr-defined]


TARGET_EXTENSION = "craftkit.request_target"
PROXY_PROTOCOL = "api.protocol.uvicorn_shim:ProxyHttpToolsProtocol"


def _declares_body(name: bytes, value: bytes) -> bool:
    return name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0")


def supervise(config: uvicorn.Config) -> None:
    """Serve `config` as `uvicorn.run` does (0.54): under the reloader, in worker processes,
    or in this process; exit 3 (uvicorn's STARTUP_FAILURE) if a lone server did not start."""
    if config.reload or config.workers > 1:
        if not isinstance(config.app, str):
            raise ValueError("workers and reload need the app as an import string")
    else:
        config.load_app()
    server = uvicorn.Server(config=config)
    try:
        if config.should_reload:
            ChangeReload(config, target=server.run, sockets=[config.bind_socket()]).run()
        elif config.workers > 1:
            Multiprocess(config, sockets=[config.bind_socket()]).run()
        else:
            server.run()
    except KeyboardInterrupt:
        pass
    if not server.started and not config.should_reload and config.workers == 1:
        sys.exit(3)
