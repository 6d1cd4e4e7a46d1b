"""api/protocol/uvicorn_shim.py: uvicorn's httptools protocol with the request head bounded.

Three parts: the uvicorn internals the shim relies on, as it expects them (each failure names
what moved); the counting, on a protocol instance fed bytes read by read; and a live
`craftkit serve` answering heads dribbled, huge, malformed, pipelined and split. Plain uvicorn
httptools fails the refusal tests (it answers nothing to a head that never ends, and plain text
to a malformed one): test_plain_httptools_bounds_nothing shows it on an instance.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import importlib.metadata
import inspect
import re
import select
import selectors
import socket
import textwrap
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from api.config import Settings
from api.protocol import bounds, server
from api.protocol.uvicorn_shim import (
    HEAD_TIMEOUT,
    HEAD_TOO_LARGE,
    INVALID_REQUEST,
    NO_HOST,
    NO_VERSION,
    PIECE,
    PROTOCOL,
    TARGET_TOO_LONG,
    UNKNOWN_METHOD,
    UNPARSED_LIMIT,
    VERSION_NOT_SUPPORTED,
    BoundedHttpToolsProtocol,
    ProxyHttpToolsProtocol,
)
from tests.support import ROOT, ServedDatabase, assert_small_envelope, craftkit, serve_database

VERSION = importlib.metadata.version("uvicorn")
LIMIT = bounds.SERVER_HEAD_BYTES


def moved(internal: str, used_for: str) -> str:
    return (
        f"uvicorn {VERSION} changed {internal}, which api/protocol/uvicorn_shim.py uses for "
        f"{used_for}: adapt the shim, then the pin in pyproject.toml"
    )


# --- the uvicorn internals the shim relies on ----------------------------------------------


def test_the_installed_uvicorn_is_in_the_pinned_range():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pin = next(d for d in project["dependencies"] if d.startswith("uvicorn"))
    assert pin.endswith(">=0.54,<0.55"), "the shim was checked on 0.54 only: re-run these tests"
    assert re.fullmatch(r"0\.54\.\d+", VERSION), f"uvicorn {VERSION} is outside {pin}"


OVERRIDDEN = {
    "connection_made": (["self", "transport"], "arming the idle timer at connect"),
    "connection_lost": (["self", "exc"], "stopping the head timer"),
    "data_received": (["self", "data"], "counting each read"),
    "on_message_begin": (["self"], "knowing that a head began"),
    "on_headers_complete": (["self"], "knowing that a head ended"),
    "send_400_response": (["self", "msg"], "answering a parser error with the envelope"),
    "_unsupported_upgrade_warning": (["self"], "silencing the per-request upgrade warnings"),
    "on_response_complete": (["self"], "parsing what waited behind the answered request"),
}


@pytest.mark.parametrize("name", OVERRIDDEN)
def test_each_overridden_method_is_still_uvicorns(name: str) -> None:
    expected, used_for = OVERRIDDEN[name]
    assert name in vars(HttpToolsProtocol), moved(f"HttpToolsProtocol.{name} (gone)", used_for)
    found = list(inspect.signature(getattr(HttpToolsProtocol, name)).parameters)
    assert found == expected, moved(f"HttpToolsProtocol.{name}{tuple(found)}", used_for)
    ours = list(inspect.signature(getattr(BoundedHttpToolsProtocol, name)).parameters)
    assert ours == expected


# Overridden by the proxy's protocol (ProxyHttpToolsProtocol), to tunnel WebSocket upgrades.
PROXY_OVERRIDDEN = {
    "_should_upgrade": (["self"], "tunnelling a WebSocket upgrade instead of serving it"),
    "handle_websocket_upgrade": (["self"], "handing the connection to the tunnel"),
}


@pytest.mark.parametrize("name", PROXY_OVERRIDDEN)
def test_each_method_the_proxy_overrides_is_still_uvicorns(name: str) -> None:
    expected, used_for = PROXY_OVERRIDDEN[name]
    assert name in vars(HttpToolsProtocol), moved(f"HttpToolsProtocol.{name} (gone)", used_for)
    found = list(inspect.signature(getattr(HttpToolsProtocol, name)).parameters)
    assert found == expected, moved(f"HttpToolsProtocol.{name}{tuple(found)}", used_for)
    ours = list(inspect.signature(getattr(ProxyHttpToolsProtocol, name)).parameters)
    assert ours == expected


def assigned_on_self(cls: type) -> set[str]:
    """The attributes `cls`'s own methods assign on `self` (`self.x = …`, `self.x += …`)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.ctx, ast.Store)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    }


@pytest.mark.parametrize(
    ("cls", "attribute", "used_for"),
    [
        (HttpToolsProtocol, "url", "the request target so far (414 or 431)"),
        (HttpToolsProtocol, "headers", "the headers parsed so far"),
        (HttpToolsProtocol, "cycle", "whether a response is in progress"),
        (HttpToolsProtocol, "transport", "writing the refusal and closing"),
        (RequestResponseCycle, "response_complete", "whether a response is in progress"),
        (RequestResponseCycle, "keep_alive", "closing once the answer in progress is sent"),
        (HttpToolsProtocol, "flow", "reading no more"),
        (HttpToolsProtocol, "pipeline", "requests waiting for their turn"),
        (HttpToolsProtocol, "parser", "whether a request asks for an upgrade"),
        (HttpToolsProtocol, "config", "the head timeout and whether bodies are taken"),
        (HttpToolsProtocol, "loop", "the head and idle timers"),
        (HttpToolsProtocol, "timeout_keep_alive", "the idle timeout"),
        (HttpToolsProtocol, "timeout_keep_alive_task", "the idle timer, armed at connect"),
        (HttpToolsProtocol, "connections", "the proxy's tunnel leaving uvicorn's connections"),
        (HttpToolsProtocol, "client", "the proxy's tunnel's X-Forwarded-For"),
        (HttpToolsProtocol, "scheme", "the proxy's tunnel's X-Forwarded-Proto"),
        (HttpToolsProtocol, "scope", "the proxy's request target in the scope's extensions"),
    ],
)
def test_each_attribute_read_is_still_set_by_uvicorn(cls: type, attribute: str, used_for: str):
    assert attribute in assigned_on_self(cls), moved(f"{cls.__name__}.{attribute}", used_for)


def test_the_attributes_hold_what_the_shim_reads(protocol: Any) -> None:
    """On an instance: the target and headers so far, no cycle before a head ends, then one."""
    proto, transport = protocol()
    assert proto.transport is transport, moved("HttpToolsProtocol.transport", "writing")
    assert proto.cycle is None, moved("HttpToolsProtocol.cycle", "a response in progress")
    proto.data_received(b"GET /abc?q=1 HTTP/1.1\r\nHost: x\r\nX-Long: ab")
    assert proto.url == b"/abc?q=1", moved("HttpToolsProtocol.url", "the target so far")
    assert proto.headers == [(b"host", b"x")], moved("HttpToolsProtocol.headers", "headers")
    proto.data_received(b"c\r\n\r\n")
    assert isinstance(proto.cycle, RequestResponseCycle)
    assert proto.cycle.response_complete is False
    assert proto.headers == [(b"host", b"x"), (b"x-long", b"abc")]


def test_uvicorn_takes_the_protocol_class_by_import_path():
    config = Config(app=asgi_ok, http=PROTOCOL, log_config=None, lifespan="off")
    config.load()
    assert config.http_protocol_class is BoundedHttpToolsProtocol, moved("Config(http=…)", "serve")


def test_serve_and_mock_run_the_shim_with_the_settings_timeouts():
    settings = Settings.from_env({"CRAFTKIT_HEAD_TIMEOUT": "7", "CRAFTKIT_IDLE_TIMEOUT": "3"})
    config = server.bounded_config(
        asgi_ok,
        "127.0.0.1",
        0,
        head_timeout=settings.head_timeout,
        idle_timeout=settings.idle_timeout,
    )
    assert (config.http, config.ws) == (PROTOCOL, "none")
    assert (config.head_timeout, config.timeout_keep_alive) == (7.0, 3.0)
    assert config.limit_concurrency == bounds.SERVER_CONCURRENCY
    for module in ("cli/serve.py", "cli/mock.py"):
        assert "server.bounded_config(" in (ROOT / module).read_text(), module
    assert callable(HttpToolsProtocol.timeout_keep_alive_handler), moved(
        "HttpToolsProtocol.timeout_keep_alive_handler", "closing an idle connection"
    )


def answer_of(written: bytes | bytearray) -> bytes:
    """A refusal without the headers that differ each time (`Date`, `X-Request-ID`)."""
    return re.sub(rb"(?m)^(date|x-request-id): [^\r]*\r\n", b"", bytes(written))


# --- the counting, on one protocol instance ------------------------------------------------


async def asgi_ok(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The application behind the instance: 200 `ok` to every request."""
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


class Transport(asyncio.Transport):
    """A connection's socket as the protocol sees it: what was written, whether it was closed."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8080)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


@pytest.fixture
def protocol() -> Iterator[Any]:
    """Make a connected protocol instance (the shim's, or `cls`) on a private event loop."""
    loop = asyncio.new_event_loop()

    def configured(seconds: float) -> Config:
        config = server.bounded_config(
            asgi_ok,
            "127.0.0.1",
            0,
            head_timeout=seconds,
            idle_timeout=seconds,
            log_config=None,
            lifespan="off",
        )
        config.load()
        return config

    config = configured(60)  # timers that never fire within a test, unless it asks

    def make(
        cls: type = BoundedHttpToolsProtocol, timeouts: float | None = None
    ) -> tuple[Any, Transport]:
        chosen = config if timeouts is None else configured(timeouts)
        proto = cls(config=chosen, server_state=ServerState(), app_state={}, _loop=loop)
        transport = Transport()
        proto.connection_made(transport)
        return proto, transport

    def run() -> None:
        """Run the event loop until every request so far has been answered."""
        while [t for t in asyncio.all_tasks(loop) if not t.done()]:
            loop.run_until_complete(asyncio.sleep(0))

    def wait(seconds: float) -> None:
        """Let the event loop run for `seconds` (timers fire)."""
        loop.run_until_complete(asyncio.sleep(seconds))

    make.run = run  # type: ignore[attr-defined]
    make.wait = wait  # type: ignore[attr-defined]
    yield make
    for task in asyncio.all_tasks(loop):
        task.cancel()
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()


def feed(proto: Any, data: bytes, piece: int) -> None:
    for start in range(0, len(data), piece):
        proto.data_received(data[start : start + piece])


def test_a_head_is_counted_exactly_and_refused_one_byte_past_the_bound(protocol: Any) -> None:
    proto, transport = protocol()
    proto.data_received(b"GET /abc HTTP/1.1\r\nHost: x\r\nX-Pad: ")
    assert proto.head_bytes == len(b"/abc") + len(b"host") + len(b"x")  # what the parser handed
    proto.data_received(b"a" * 100)
    assert proto.head_bytes == 9 + 100  # then each read, whole
    proto.data_received(b"a" * (LIMIT - 109))
    assert proto.head_bytes == LIMIT and not transport.closed and transport.written == b""
    proto.data_received(b"a")
    assert answer_of(transport.written) == HEAD_TOO_LARGE and transport.closed


@pytest.mark.parametrize(
    ("head", "answer"),
    [
        (b"GET /v1/" + b"a" * 3 * LIMIT, TARGET_TOO_LONG),
        (b"GET /v1/" + b"a" * 2044 + b" HTTP/1.1\r\nX-Pad: " + b"b" * 2 * LIMIT, HEAD_TOO_LARGE),
        (b"GET /v1/" + b"a" * 2045 + b" HTTP/1.1\r\nX-Pad: " + b"b" * 2 * LIMIT, TARGET_TOO_LONG),
    ],
    ids=["endless target", "target at 2048", "target at 2049"],
)
def test_an_endless_head_gets_414_while_its_target_is_too_long(protocol, head, answer):
    proto, transport = protocol()
    feed(proto, head, 1000)
    assert answer_of(transport.written) == answer and transport.closed
    assert proto.head_bytes <= LIMIT + 1000  # refused at the first read past the bound


def test_plain_httptools_bounds_nothing(protocol: Any) -> None:
    """The same endless head on uvicorn's own class: no answer, still open, so the bound is ours."""
    proto, transport = protocol(HttpToolsProtocol)
    feed(proto, b"GET / HTTP/1.1\r\nX-Pad: " + b"a" * 4 * LIMIT, 1000)
    assert transport.written == b"" and not transport.closed
    proto.data_received(b"\x00garbage\r\n\r\n")
    assert transport.written.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"text/plain" in transport.written  # not the envelope


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"\x00\x01garbage\r\n\r\n",
        b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    ],
    ids=["garbage", "space in target", "space in header name", "two content-length"],
)
def test_a_parser_error_gets_the_400_envelope(protocol: Any, request_bytes: bytes) -> None:
    proto, transport = protocol()
    proto.data_received(request_bytes)
    assert answer_of(transport.written) == INVALID_REQUEST and transport.closed


@pytest.mark.parametrize(
    ("request_bytes", "answer"),
    [
        (b"GET / HTTP/1.1\r\nX-A: b\r\n\r\n", NO_HOST),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", NO_HOST),
        (b"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", NO_HOST),
        (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", VERSION_NOT_SUPPORTED),
        (b"GET /\r\nHost: a\r\n\r\n", NO_VERSION),
        (b"FOO / HTTP/1.1\r\nHost: a\r\n\r\n", UNKNOWN_METHOD),
    ],
    ids=["no host", "two hosts", "two hosts on 1.0", "HTTP/2.0", "no version", "unknown method"],
)
def test_what_rfc_9112_refuses_is_refused(protocol: Any, request_bytes: bytes, answer: bytes):
    proto, transport = protocol()
    proto.data_received(request_bytes)
    assert answer_of(transport.written) == answer and transport.closed
    assert proto.cycle is None  # the application never saw it


@pytest.mark.parametrize(
    "request_bytes",
    [b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", b"GET / HTTP/1.0\r\n\r\n"],
    ids=["one host", "HTTP/1.0 without host"],
)
def test_what_rfc_9112_allows_is_answered(protocol: Any, request_bytes: bytes) -> None:
    proto, transport = protocol()
    proto.data_received(request_bytes)
    protocol.run()
    assert transport.written.startswith(b"HTTP/1.1 200 OK\r\n")


def test_a_refusal_carries_a_date_and_a_request_id(protocol: Any) -> None:
    proto, transport = protocol()
    proto.data_received(b"\x00garbage\r\n\r\n")
    response, _ = parse(bytes(transport.written))
    assert re.fullmatch(r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT",
                        response.headers["date"])  # fmt: skip
    assert re.fullmatch(r"[0-9a-f-]{36}", response.headers["x-request-id"])


def test_a_head_not_whole_within_the_head_timeout_gets_408(protocol: Any) -> None:
    proto, transport = protocol(timeouts=0.05)
    proto.data_received(b"GET / HTTP/1.1\r\nHost: a\r\n")
    protocol.wait(0.2)
    assert answer_of(transport.written) == HEAD_TIMEOUT and transport.closed


def test_bytes_dripped_between_requests_count_as_a_head(protocol: Any) -> None:
    proto, transport = protocol(timeouts=0.05)
    for _ in range(10):
        proto.data_received(b"\r\n")  # no request begins: llhttp skips empty lines
        protocol.wait(0.01)
    protocol.wait(0.1)
    assert answer_of(transport.written) == HEAD_TIMEOUT and transport.closed


def test_a_connection_that_sends_nothing_is_closed_after_the_idle_timeout(protocol: Any):
    _proto, transport = protocol(timeouts=0.05)
    protocol.wait(0.2)
    assert transport.closed and transport.written == b""
    _proto, transport = protocol(HttpToolsProtocol, timeouts=0.05)
    protocol.wait(0.2)
    assert not transport.closed  # uvicorn's own class waits for ever


def test_a_whole_head_in_time_is_answered_and_its_timer_stopped(protocol: Any) -> None:
    proto, transport = protocol(timeouts=0.2)
    proto.data_received(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    protocol.run()
    assert proto.head_timer is None
    assert transport.written.startswith(b"HTTP/1.1 200 OK\r\n") and not transport.closed


def test_a_head_is_bounded_however_the_reads_fall(protocol: Any) -> None:
    """Whole in one read or not, a head past the bound is the shim's 431; one under it goes to
    the application (api/protocol/guards.py bounds its headers further)."""
    proto, transport = protocol()
    proto.data_received(b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 3 * LIMIT + b"\r\n\r\n")
    assert answer_of(transport.written) == HEAD_TOO_LARGE and transport.closed
    proto, transport = protocol()
    proto.data_received(
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * (LIMIT - 100) + b"\r\n\r\n"
    )
    protocol.run()
    assert transport.written.startswith(b"HTTP/1.1 200 OK\r\n") and not transport.closed


def test_a_head_beginning_in_a_large_read_is_counted_at_most_a_piece_short(protocol: Any) -> None:
    """The read where a head begins is parsed in pieces: an unfinished header value hidden in
    the parser's own buffer is at most one piece of bytes uncounted."""
    proto, transport = protocol()
    start = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: "
    proto.data_received(start + b"a" * (LIMIT + PIECE))  # one read, the value never ending
    assert answer_of(transport.written) == HEAD_TOO_LARGE and transport.closed


def test_pipelined_requests_wait_unparsed_for_their_turn(protocol: Any) -> None:
    """Thousands of requests in one read are parsed one turn at a time, not queued at once."""
    proto, transport = protocol()
    flood = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 5000
    proto.data_received(flood)
    assert len(proto.pipeline) < PIECE // 20  # what one piece holds, not 5000
    assert proto.unparsed is not None and len(proto.unparsed) > len(flood) // 2
    protocol.run()
    assert transport.written.count(b"HTTP/1.1 200 OK\r\n") == 5000 and not transport.closed


def test_bytes_kept_behind_a_waiting_request_are_bounded(protocol: Any) -> None:
    proto, transport = protocol()
    proto.data_received(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 2)  # the second waits
    assert proto.pipeline
    for _ in range(UNPARSED_LIMIT // 54000 + 2):  # 54,000 bytes a read
        proto.data_received(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 2000)
    assert proto.unparsed is None  # dropped: nothing more is parsed
    protocol.run()
    assert transport.closed  # the answers in progress went out, then the connection was cut


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
        + b"a: b\r\n" * 20000,
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000,
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
        + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
    ids=["endless trailers", "a body", "a request behind an upgrade"],
)
def test_after_a_body_or_an_upgrade_nothing_more_is_read(protocol: Any, request_bytes: bytes):
    """No operation takes a body: answer the request (the app says 413), then close."""
    proto, transport = protocol()
    proto.data_received(request_bytes)
    headers_seen = len(proto.headers)
    proto.data_received(b"a: b\r\n" * 20000)
    assert len(proto.headers) == headers_seen < 1000  # trailers are not read on
    protocol.run()
    assert transport.written.count(b"HTTP/1.1 ") == 1
    assert b"connection: close\r\n" in transport.written and transport.closed


def test_pipelined_reads_count_only_the_head_in_progress(protocol: Any) -> None:
    """A read that ends heads and begins another: the new head is counted from its own bytes."""
    proto, transport = protocol()
    request = b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n"
    proto.data_received(request[:20])
    proto.data_received(request[20:] + request * 1000 + request[:20])  # 32 KiB, ends mid-head
    assert not transport.closed
    assert proto.head_bytes == len(b"/livez")
    protocol.run()
    proto.data_received(request[20:])
    protocol.run()
    assert transport.written.count(b"HTTP/1.1 200 OK\r\n") == 1002 and not transport.closed


def test_the_count_starts_again_with_each_request(protocol: Any) -> None:
    proto, transport = protocol()
    request = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * (LIMIT // 2) + b"\r\n\r\n"
    for _ in range(4):  # 32 KiB of heads on the connection, each dribbled
        feed(proto, request, 500)
        protocol.run()
    assert transport.written.count(b"HTTP/1.1 200 OK\r\n") == 4 and not transport.closed


def test_a_pipelined_head_refused_mid_response_lets_that_answer_end_then_closes(
    protocol: Any,
) -> None:
    """The answer being written belongs to the request before: no 431 in the middle of it;
    it is sent whole, then the connection closes, and nothing more is read meanwhile."""
    proto, transport = protocol()
    proto.data_received(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nX-Pad: ")
    assert proto.cycle.response_complete is False  # the first answer has not been written
    feed(proto, b"a" * (LIMIT + 1), 1000)
    assert transport.written == b"" and not transport.closed
    feed(proto, b"a" * 10 * LIMIT, 1000)  # ignored: the parser is not fed any more
    protocol.run()
    assert transport.written.startswith(b"HTTP/1.1 200 OK\r\n")
    assert transport.written.count(b"HTTP/1.1") == 1
    assert b"connection: close\r\n" in transport.written
    assert transport.closed


# --- a live `craftkit serve` -----------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`craftkit demo` in a SQLite file, served by one worker (the serve process itself)."""
    workdir = tmp_path_factory.mktemp("uvicorn_shim")
    db_url = f"sqlite:///{workdir / 'craftkit.db'}"
    demo = craftkit(db_url, "demo").stdout
    key = re.search(r"Bearer (\S+)'", demo).group(1)  # type: ignore[union-attr]
    render = re.search(r"/v1/renders/([0-9a-f-]{36})/", demo).group(1)  # type: ignore[union-attr]
    with serve_database(db_url, workdir) as server:
        yield {"server": server, "key": key, "render": render}


def connect(server: ServedDatabase) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # each piece its own segment
    return sock


def answered(sock: socket.socket) -> bool:
    """Whether the server has sent something (or closed); poll() takes any descriptor."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def dribble(
    sock: socket.socket, data: bytes, piece: int, pause: float = 0.003, until_answered: bool = True
) -> int:
    """Send `data` a piece at a time, as separate reads; stop if the server closes or (with
    `until_answered`) once it answers."""
    sent = 0
    while sent < len(data) and not (until_answered and answered(sock)):
        try:
            sock.sendall(data[sent : sent + piece])
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += min(piece, len(data) - sent)
        time.sleep(pause)
    return sent


def until_closed(sock: socket.socket) -> tuple[bytes, bool]:
    """Everything the server sends, and whether it then closed (False: it kept waiting)."""
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except TimeoutError:
        return b"".join(chunks), False
    except ConnectionResetError:
        pass
    return b"".join(chunks), True


def parse(raw: bytes) -> tuple[httpx.Response, bytes]:
    """The first HTTP/1.1 response in `raw` (by its Content-Length), and the bytes after it."""
    head, separator, rest = raw.partition(b"\r\n\r\n")
    assert separator, f"no whole response in {raw[:200]!r}"
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines]
    length = int(next(value for name, value in headers if name.lower() == "content-length"))
    response = httpx.Response(int(status_line.split()[1]), headers=headers, content=rest[:length])
    return response, rest[length:]


def refusal(raw: bytes, closed: bool, status: int, code: str) -> dict[str, Any]:
    """The shim's answer: status line, JSON envelope, `connection: close`, and then closed."""
    assert raw.startswith(b"HTTP/1.1 %d " % status), raw[:300]
    response, after = parse(raw)
    error = assert_small_envelope(response, status, code)
    assert response.headers["connection"] == "close"
    assert after == b"" and closed, "the connection stayed open after the refusal"
    return error


def engagement(served: dict[str, Any], *extra: bytes, connection: bytes = b"keep-alive") -> bytes:
    return b"".join(
        [
            b"GET /v1/renders/%s/engagement HTTP/1.1\r\n" % served["render"].encode(),
            b"Host: 127.0.0.1\r\n",
            b"Authorization: Bearer %s\r\n" % served["key"].encode(),
            b"Connection: %s\r\n" % connection,
            *extra,
            b"\r\n",
        ]
    )


def pad(total: int) -> list[bytes]:
    """Header lines of about `total` bytes of names and values, 500 per header."""
    return [b"X-Pad-%03d: %s\r\n" % (i, b"p" * 490) for i in range(total // 500)]


def still_serves(served: dict[str, Any]) -> None:
    response = httpx.get(
        f"{served['server'].url}/v1/renders/{served['render']}/engagement",
        headers={"Authorization": f"Bearer {served['key']}"},
    )
    assert response.status_code == 200 and response.json()["total"] == 60


def rss(pid: int) -> int:
    """The process's resident memory, in bytes."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE).group(1)) * 1024  # type: ignore[union-attr]


def test_a_head_dribbled_past_16_kib_gets_the_431_envelope(served: dict[str, Any]) -> None:
    with connect(served["server"]) as sock:
        head = b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"".join(pad(8 * LIMIT))
        sent = dribble(sock, head, 512)  # never ends: plain httptools would wait for more
        raw, closed = until_closed(sock)
    error = refusal(raw, closed, 431, "headers_too_large")
    assert error["message"] == f"The request head is larger than {LIMIT} bytes."
    assert LIMIT < sent < len(head), sent  # refused past the bound, long before the head's end
    still_serves(served)


def test_a_64_mb_header_is_cut_off_early(served: dict[str, Any]) -> None:
    """More than the socket buffers of both ends hold (a few MB on loopback): a server that
    kept reading would be seen taking it all. The worker is the serve process (one worker)."""
    size = 64 * 1024 * 1024
    pid = served["server"].process.pid
    still_serves(served)
    before = rss(pid)
    with connect(served["server"]) as sock:
        sock.sendall(b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Huge: ")
        sent, chunk = 0, b"h" * 65536
        while sent < size and not answered(sock):  # as fast as the socket takes it
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        grown = rss(pid) - before  # while this connection is still open
        raw, closed = until_closed(sock)
    assert raw, f"no answer after {sent} bytes"
    refusal(raw, closed, 431, "headers_too_large")
    assert sent < size, "the whole header was taken: the server kept reading"
    assert grown < 16 * 1024 * 1024, f"the worker grew by {grown} bytes"  # about 1 MB seen
    still_serves(served)


def test_a_request_target_dribbled_past_the_bound_gets_the_414_envelope(served):
    with connect(served["server"]) as sock:
        dribble(sock, b"GET /v1/renders/" + b"a" * 3 * LIMIT, 512)
        raw, closed = until_closed(sock)
    error = refusal(raw, closed, 414, "uri_too_long")
    assert (
        error["message"]
        == f"The request target is longer than {bounds.REQUEST_TARGET.limit} bytes."
    )
    still_serves(served)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"\x00\x01\x02 garbage\r\n\r\n",
        b"GET /v1/renders/a b/engagement HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /livez HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n",
    ],
    ids=["garbage", "space in target", "space in header name"],
)
def test_a_malformed_request_gets_the_400_envelope(served: dict[str, Any], request_bytes: bytes):
    with connect(served["server"]) as sock:
        sock.sendall(request_bytes)
        raw, closed = until_closed(sock)
    error = refusal(raw, closed, 400, "invalid_request")
    assert error["message"] == "Invalid HTTP request received."


@pytest.mark.parametrize(
    "body",
    [
        b"Transfer-Encoding: gzip\r\n\r\nxyz",
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\nnot a chunk\r\n",
    ],
    ids=["unsupported transfer-encoding", "malformed chunks"],
)
def test_a_body_the_parser_rejects_after_the_head_gets_the_apps_envelope(served, body):
    """The head reached the app, which refuses any body (413): that answer is sent whole,
    then the connection closes (uvicorn's h11 answered a plain-text 400; httptools alone
    closed without a word)."""
    with connect(served["server"]) as sock:
        sock.sendall(
            engagement(served, body.split(b"\r\n\r\n")[0] + b"\r\n") + body.split(b"\r\n\r\n", 1)[1]
        )
        raw, closed = until_closed(sock)
    response, after = parse(raw)
    assert_small_envelope(response, 413, "payload_too_large")
    assert response.headers["connection"] == "close"
    assert after == b"" and closed
    still_serves(served)


def test_a_websocket_upgrade_is_answered_as_plain_http(served: dict[str, Any]) -> None:
    """No WebSocket here: uvicorn's handshake answered a bodiless 403; now the app answers."""
    upgrade = [
        b"Upgrade: websocket\r\n",
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
        b"Sec-WebSocket-Version: 13\r\n",
    ]
    request = engagement(served, *upgrade, connection=b"Upgrade").replace(
        b"Connection: Upgrade\r\n", b"Connection: Upgrade, close\r\n"
    )
    with connect(served["server"]) as sock:
        sock.sendall(request)
        raw, _closed = until_closed(sock)
    response, _after = parse(raw)
    assert response.status_code == 200, raw[:300]
    assert response.json()["total"] == 60
    assert "Unsupported upgrade" not in served["server"].output()


@pytest.mark.parametrize("piece", [None, 700], ids=["one write", "dribbled"])
def test_a_head_under_16_kib_with_over_8_kib_of_headers_gets_the_apps_431(served, piece):
    """api/protocol/guards.py answers it: the shim lets every head under its bound through."""
    request = engagement(served, *pad(12 * 1024), connection=b"close")
    assert len(request) < LIMIT
    with connect(served["server"]) as sock:
        if piece is None:
            sock.sendall(request)
        else:
            assert dribble(sock, request, piece) == len(request)
        raw, _ = until_closed(sock)
    response, _ = parse(raw)
    error = assert_small_envelope(response, 431, "headers_too_large")
    assert error["message"] == f"The request headers are larger than {bounds.HEADERS.limit} bytes."


def test_pipelined_requests_then_split_heads_on_one_connection(served: dict[str, Any]) -> None:
    """3 GETs in one write get 3 answers; then heads of 6 KiB split at odd places, each 200,
    more than 16 KiB of heads on the connection in all."""
    plain = engagement(served)
    padded = engagement(served, *pad(6 * 1024))
    with connect(served["server"]) as sock:
        sock.sendall(plain * 3)
        answers = read_answers(sock, 3)
        for _ in range(4):
            assert dribble(sock, padded, 97) == len(padded)
            answers += read_answers(sock, 1)
    assert [a.status_code for a in answers] == [200] * 7
    assert all(a.json()["total"] == 60 for a in answers)


def test_pipelined_heads_split_anywhere_are_all_answered(served: dict[str, Any]) -> None:
    """40 KiB of pipelined requests in 3000-byte writes: most reads end inside a head."""
    requests = engagement(served, *pad(1000)) * 40
    with connect(served["server"]) as sock:
        sent = dribble(sock, requests, 3000, pause=0.001, until_answered=False)
        assert sent == len(requests)
        answers = read_answers(sock, 40)
    assert [a.status_code for a in answers] == [200] * 40


def read_answers(sock: socket.socket, count: int) -> list[httpx.Response]:
    """Read exactly `count` responses (each with a Content-Length) from a keep-alive socket."""
    answers: list[httpx.Response] = []
    buffer = b""
    while len(answers) < count:
        head, separator, _ = buffer.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        if separator and length and len(buffer) >= len(head) + 4 + int(length.group(1)):
            response, buffer = parse(buffer)
            answers.append(response)
            continue
        chunk = sock.recv(65536)
        assert chunk, f"closed after {len(answers)} of {count} answers"
        buffer += chunk
    assert buffer == b""
    return answers


# --- time bounds on a live server: idle sockets and slow heads hold nothing for long ---------

TIMEOUT = "1"  # CRAFTKIT_HEAD_TIMEOUT and CRAFTKIT_IDLE_TIMEOUT of this server, in seconds
IDLE_SOCKETS = 999  # the case: with uvicorn's limit of 1000, 88 of 99 others got 503
DRIPPING = 50


@pytest.fixture(scope="module")
def timed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedDatabase]:
    workdir = tmp_path_factory.mktemp("timeouts")
    db_url = f"sqlite:///{workdir / 'craftkit.db'}"
    craftkit(db_url, "demo")
    env = {"CRAFTKIT_HEAD_TIMEOUT": TIMEOUT, "CRAFTKIT_IDLE_TIMEOUT": TIMEOUT}
    with serve_database(db_url, workdir, env=env) as server:
        yield server


def closed_by_server(sockets: list[socket.socket], within: float = 60) -> dict[int, bytes]:
    """Wait until the server has closed every socket (reading what each got); the sockets it
    leaves open after `within` seconds are missing from the answer.

    epoll, not select(): a test process that has run many others holds file descriptors past
    select()'s limit of 1024, and 999 more sockets go beyond it.
    """
    got: dict[int, bytes] = {}
    received = {sock.fileno(): b"" for sock in sockets}
    deadline = time.monotonic() + within
    with selectors.DefaultSelector() as selector:
        for sock in sockets:
            selector.register(sock, selectors.EVENT_READ)
        while received.keys() - got.keys() and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.5):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                if chunk:
                    received[sock.fileno()] += chunk
                else:
                    got[sock.fileno()] = received[sock.fileno()]
                    selector.unregister(sock)
    return got


def test_idle_connections_are_closed_and_the_worker_serves_again(timed: ServedDatabase) -> None:
    sockets = [connect(timed) for _ in range(IDLE_SOCKETS)]
    try:
        closed = closed_by_server(sockets)
        assert len(closed) == IDLE_SOCKETS, f"{IDLE_SOCKETS - len(closed)} idle sockets still open"
        assert set(closed.values()) == {b""}  # closed without a word, as keep-alive ends
    finally:
        for sock in sockets:
            sock.close()
    assert httpx.get(f"{timed.url}/livez", timeout=10).status_code == 200


def test_heads_dripped_a_byte_at_a_time_get_408_and_the_close(timed: ServedDatabase) -> None:
    sockets = [connect(timed) for _ in range(DRIPPING)]
    try:
        for sock in sockets:
            sock.sendall(b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        head = b"X-Slow: " + b"s" * 200
        for byte in range(len(head)):  # a byte every 50 ms on each: 10 s in all, past 1 s
            open_ = [s for s in sockets if not answered(s)]
            if not open_:
                break
            for sock in open_:
                with contextlib.suppress(OSError):
                    sock.sendall(head[byte : byte + 1])
            time.sleep(0.05)
        closed = closed_by_server(sockets)
        assert len(closed) == DRIPPING, f"{DRIPPING - len(closed)} dripping sockets still open"
        for raw in closed.values():
            refusal(raw, True, 408, "request_timeout")
    finally:
        for sock in sockets:
            sock.close()
    assert httpx.get(f"{timed.url}/livez", timeout=10).status_code == 200


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (b"GET /livez HTTP/1.1\r\n\r\n", 400, "invalid_request"),
        (b"GET /livez HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "invalid_request"),
        (b"GET /livez HTTP/2.0\r\nHost: a\r\n\r\n", 505, "http_version_not_supported"),
        (b"GET /livez\r\nHost: a\r\n\r\n", 400, "invalid_request"),
        (b"FOO /livez HTTP/1.1\r\nHost: a\r\n\r\n", 501, "not_implemented"),
    ],
    ids=["no host", "two hosts", "HTTP/2.0", "no version", "unknown method"],
)
def test_a_live_server_refuses_what_rfc_9112_refuses(
    timed: ServedDatabase, request_bytes: bytes, status: int, code: str
) -> None:
    with connect(timed) as sock:
        sock.sendall(request_bytes)
        raw, closed = until_closed(sock)
    refusal(raw, closed, status, code)
    response, _ = parse(raw)
    assert "date" in response.headers and "x-request-id" in response.headers


def test_supervise_still_runs_a_config_as_uvicorn_run_does():
    """`supervise` repeats the end of `uvicorn.run` (0.54) for a config built elsewhere."""
    import uvicorn

    source = inspect.getsource(uvicorn.run)
    for line in (
        "ChangeReload(config, target=server.run, sockets=[sock]).run()",
        "Multiprocess(config, sockets=[sock]).run()",
        "server.run()",
        "config.load_app()",
    ):
        assert line in source, moved(f"uvicorn.run ({line!r} gone)", "serve and mock")
