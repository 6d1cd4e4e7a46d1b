"""What the proxy's tests share: servers on free loopback ports in threads, the proxy itself in
front of one, and an upstream that records the bytes it receives."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from api.protocol.uvicorn_shim import ProxyHttpToolsProtocol
from api.proxy import ProxyApp, ProxyOptions, Upstream
from api.proxy.app import create_proxy_app
from cli.proxy import proxy_config
from tests.support import free_port


@contextmanager
def served(
    app: Any, config_for: Callable[[Any, int], uvicorn.Config] | None = None, **options: Any
) -> Iterator[str]:
    """`app` under uvicorn in a thread on a free 127.0.0.1 port; its URL; stopped after.

    `config_for(app, port)` builds the config (the proxy's own); else uvicorn's with `options`.
    """
    port = free_port()
    if config_for is not None:
        config = config_for(app, port)
    else:
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            **{"log_level": "warning", "lifespan": "off", **options},
        )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError("the server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@contextmanager
def proxied(
    spec_path: Path,
    upstream: str,
    *,
    mode: str = "report",
    timeout: float = 10,
    idle_timeout: float = 5,
    head_timeout: float = 10,
    **more: Any,
) -> Iterator[tuple[str, ProxyApp]]:
    """The proxy as `craftkit proxy` runs it (its uvicorn options), in front of `upstream`."""
    app, _operations = create_proxy_app(
        spec_path,
        ProxyOptions(Upstream.parse(upstream), mode=mode, upstream_timeout=timeout, **more),
    )
    ProxyHttpToolsProtocol.tunnel = app.tunnel()

    def config_for(app: Any, port: int) -> uvicorn.Config:
        return proxy_config(
            app,
            "127.0.0.1",
            port,
            head_timeout=head_timeout,
            idle_timeout=idle_timeout,
            log_level="warning",
        )

    with served(app, config_for) as url:
        yield url, app


@dataclass
class Recording:
    """An upstream that keeps every request's bytes and answers with `answer(request)`."""

    answer: Callable[[bytes], bytes | None]
    received: list[bytes] = field(default_factory=list)
    connections: int = 0
    url: str = ""
    release: threading.Event = field(default_factory=threading.Event)


def answer_bytes(status: int, body: bytes, content_type: str = "application/json") -> bytes:
    reason = {200: "OK", 201: "Created", 400: "Bad Request", 404: "Not Found"}.get(status, "X")
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\n"
        f"content-length: {len(body)}\r\nx-upstream: yes\r\n\r\n"
    ).encode() + body


@contextmanager
def recording_upstream(answer: Callable[[bytes], bytes | None]) -> Iterator[Recording]:
    """A raw HTTP/1.1 server: one request per connection read whole (head and Content-Length
    body), recorded, answered; `answer` returning None means never answer (until released)."""
    recording = Recording(answer)

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            sock: socket.socket = self.request
            sock.settimeout(10)
            recording.connections += 1
            data = b""
            while True:
                while b"\r\n\r\n" not in data:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, rest = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                while len(rest) < length:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return
                    rest += chunk
                request = head + b"\r\n\r\n" + rest[:length]
                data = rest[length:]
                recording.received.append(request)
                reply = recording.answer(request)
                if reply is None:
                    recording.release.wait(20)
                    return
                sock.sendall(reply)
                if b"content-length" not in reply.lower():
                    return  # a body delimited by the close

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    recording.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield recording
    finally:
        recording.release.set()
        server.shutdown()
        server.server_close()
