"""uvicorn's httptools protocol with a bound on the request head: the one uvicorn internal.

httptools (llhttp) is uvicorn's fast HTTP/1.1 parser, but it reads a request line and headers
of any size: a client that never ends its head grows the worker's memory without limit.
uvicorn bounds heads only on its h11 protocol (`h11_max_incomplete_event_size`), and h11 cost
`craftkit serve` about a quarter of its throughput on the bench (bench/results.md). So serve
runs this subclass of `HttpToolsProtocol` (uvicorn's `http=` option takes a class path):

- a head still incomplete at the end of a read is counted: in the read where it began, what
  the parser's callbacks have handed over of it; each later read, whole. Once past
  `SERVER_HEAD_BYTES` the client gets a 431 envelope (414 while the request target alone is
  that long) and the connection is closed. A head that arrives whole in one read is never
  refused here: it goes on to api/guards.py, whose bounds are smaller, and gets the same
  envelopes there;
- a request the parser rejects gets the 400 envelope instead of uvicorn's plain text.

The subclass overrides `data_received`, `on_message_begin`, `on_headers_complete`,
`send_400_response` and `_unsupported_upgrade_warning`, reads `url`, `headers`, `cycle`,
`flow` and `transport`, and sets the cycle's `keep_alive`, `more_body` and `message_event`
to end a request whose bytes went bad;
tests/test_uvicorn_shim.py checks each against the installed uvicorn and says which moved.
pyproject.toml pins the uvicorn range these were tested on.
"""

from __future__ import annotations

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api import bounds

PROTOCOL = "api.uvicorn_shim:BoundedHttpToolsProtocol"  # uvicorn's `http=` option, by path


def error_response(status: int, code: str, message: str) -> bytes:
    """A whole HTTP/1.1 answer in the contract's envelope that closes the connection."""
    body = orjson.dumps({"error": {"code": code, "message": message}})
    reason = {400: b"Bad Request", 414: b"URI Too Long", 431: b"Request Header Fields Too Large"}
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


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    head_limit = bounds.SERVER_HEAD_BYTES

    # Per connection: whether the parser is inside a request head, whether that head began in
    # the current read, and its bytes so far.
    in_head = False
    head_began = False
    head_bytes = 0
    refused = False  # set once the bytes went bad while a request was being answered

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return  # the request in progress is being answered; nothing more is read
        self.head_began = False
        super().data_received(data)
        if not self.in_head or self.transport.is_closing():
            return
        if self.head_began:  # count what the parser has handed over of this head
            self.head_bytes = len(self.url) + sum(len(n) + len(v) for n, v in self.headers)
        else:  # the whole read carries on a head begun in an earlier one
            self.head_bytes += len(data)
        if self.head_bytes > self.head_limit:
            self.refuse(
                TARGET_TOO_LONG if len(self.url) > bounds.REQUEST_TARGET.limit else HEAD_TOO_LARGE
            )

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.in_head = True
        # A read that ends heads and begins another (pipelining) is not all this head's bytes.
        self.head_began = True

    def on_headers_complete(self) -> None:
        self.in_head = False
        super().on_headers_complete()

    def _unsupported_upgrade_warning(self) -> None:
        """An `Upgrade` request is served as plain HTTP (serve runs with `ws="none"`: the API
        has no WebSocket); uvicorn's two warnings a request, one telling to install a
        WebSocket library, would be noise any client could make. The request log has it."""

    def send_400_response(self, msg: str) -> None:
        """The parser refused the bytes (uvicorn logged `msg`): the 400 envelope."""
        self.refuse(INVALID_REQUEST)

    def refuse(self, answer: bytes) -> None:
        """Answer and close. While a request is being answered (a pipelined head, or a body
        the parser rejects after its head reached the app) that answer is written first, the
        connection closing after it; the request's body ends here for a reader."""
        self.in_head = False
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            self.transport.write(answer)
            self.transport.close()
            return
        self.refused = True
        cycle.keep_alive = False  # uvicorn closes the connection once this answer is sent
        cycle.more_body = False
        cycle.message_event.set()
        self.flow.pause_reading()
