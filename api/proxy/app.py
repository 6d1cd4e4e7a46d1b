"""The proxy as a bare ASGI app: route, check, forward unchanged, check the answer, record.

No framework sits in the request path (the proxy may add half a millisecond): the request is
matched and checked by api/openapi/operations.py, forwarded by api/proxy/upstream.py with its
own target bytes, headers (duplicates and order kept) and body, and answered with the
upstream's status, headers and body. Only hop-by-hop headers (RFC 9110 §7.6.1: `Connection`
and the fields it names, `Keep-Alive`, `Proxy-Connection`, `TE`, `Transfer-Encoding`,
`Upgrade`) are dropped on each side, and `X-Forwarded-For`, `-Proto` and `-Host` added.

Modes:
- `report`: the answer goes back unchanged, plus `Contract-Violations: <count>; <short list>`
  when something is wrong; one JSON log line per violation;
- `enforce`: an invalid request is answered here (the spec's documented 400/422 where it has
  one, else the error envelope) and not forwarded; an invalid answer becomes a 502 envelope
  listing the violations.

Upstream down: 502; slower than `upstream_timeout`: 504; both in the envelope. The report
path (`/__craftkit/report`) answers the record as JSON and writes the report files.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from api.mock.documented_errors import documented_error
from api.openapi.operations import Operation, Operations
from api.openapi.servers import base_path
from api.openapi.spec import OpenAPI31Specification
from api.openapi.validation import Issue
from api.protocol import bounds
from api.protocol.uvicorn_shim import TARGET_EXTENSION, Tunnel
from api.proxy.record import Exchange, Record, describe
from api.proxy.upstream import (
    Pool,
    Response,
    Upstream,
    UpstreamTimeout,
    UpstreamUnavailable,
    drain,
)

logger = logging.getLogger("craftkit.proxy")

MODES = ("report", "enforce")
REPORT_PATH = "/__craftkit/report"
MAX_BODY = 10 * 1024 * 1024  # bytes of a body the proxy reads to check it
HEADER = b"contract-violations"
LISTED = 3  # violations named in the header; the log and the record have them all
HOP_BY_HOP = {
    b"connection",
    b"keep-alive",
    b"proxy-connection",
    b"te",
    b"transfer-encoding",
    b"upgrade",
}
SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie", "set-cookie"}
CODES = {
    400: "invalid_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    414: "uri_too_long",
    431: "headers_too_large",
    502: "bad_gateway",
    504: "gateway_timeout",
}

# (status, media type, body, extra headers): an answer the proxy gives itself.
Answer = tuple[int, str, bytes, list[tuple[bytes, bytes]]]
# The spec's own error shape for a refused request, if it documents one (enforce mode).
DocumentedError = Callable[[Operation, int, str, list[Issue]], Answer | None]


def envelope(status: int, message: str, issues: list[Issue] | None = None) -> Answer:
    """The contract's error envelope `{"error": {"code", "message", "issues"?}}`."""
    error: dict[str, Any] = {"code": CODES.get(status, f"http_{status}"), "message": message}
    if issues is not None:
        error["issues"] = issues
    return status, "application/json", orjson.dumps({"error": error}), []


@dataclass
class ProxyOptions:
    upstream: Upstream
    mode: str = "report"
    upstream_timeout: float = 30.0
    report_path: str = REPORT_PATH
    max_body: int = MAX_BODY


def header_value(issues: list[Issue]) -> bytes:
    """`Contract-Violations`: the count and the first few, one line of printable ASCII."""
    listed = "; ".join(describe(issue)[:120] for issue in issues[:LISTED])
    more = f"; +{len(issues) - LISTED} more" if len(issues) > LISTED else ""
    text = f"{len(issues)}; {listed}{more}"
    return text.encode("ascii", "backslashreplace").translate(None, b"\r\n\x00")


def answer_to_invalid(
    operation: Operation,
    request_issues: list[Issue],
    documented: str | None,
    response: Response,
    body: bytes,
) -> list[Issue]:
    """A request without the credentials its operation requires, answered with success: the
    upstream ignored its security requirement."""
    if not 200 <= response.status < 300:
        return []
    missing = [issue for issue in request_issues if issue["in"] == "security"]
    if not missing:
        return []
    return [
        {
            "in": "response.status",
            "message": f"status {response.status} answered a request that lacks the required "
            f"credentials ({missing[0]['message']})",
        }
    ]


def create_proxy_app(
    spec_path: str | Path, options: ProxyOptions, **more: Any
) -> tuple[ProxyApp, Operations]:
    """The proxy for the document at `spec_path` (3.0, 3.1 or 3.2): its operations compiled
    under the base path of its first server, refused requests in its documented error shape.
    Raises what api/openapi/spec.py raises for a document it cannot load."""
    spec = OpenAPI31Specification.from_path(spec_path)
    operations = Operations(spec, base_path=base_path(spec.spec))

    def documented(
        operation: Operation, status: int, message: str, issues: list[Issue]
    ) -> Answer | None:
        found = documented_error(spec, operation.definition, status, message, issues)
        if found is None:
            return None
        code, media_type, body, headers = found
        raw = [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in headers.items()]
        return code, media_type, body, raw

    return ProxyApp(operations, options, documented_error=documented, **more), operations


class ProxyApp:
    """ASGI app: every request checked, forwarded to the upstream, its answer checked."""

    def __init__(
        self,
        operations: Operations,
        options: ProxyOptions,
        *,
        record: Record | None = None,
        documented_error: DocumentedError | None = None,
        on_report: Callable[[Record], None] | None = None,
    ) -> None:
        self.operations = operations
        self.options = options
        self.record = record or Record(operations)
        self.documented_error = documented_error
        self.on_report = on_report
        self.pool = Pool(options.upstream)
        self.secret = SECRET_HEADERS | {
            credential.name.lower()
            for operation in operations.all
            for alternative in operation.security
            for credential in alternative
            if credential.where == "header"
        }

    def tunnel(self) -> Tunnel:
        """Where the protocol tunnels WebSocket upgrades (api/protocol/uvicorn_shim.py), each
        counted in the record."""
        upstream = self.options.upstream
        return Tunnel(upstream.host, upstream.port, self.pool.ssl, self.record.upgraded)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            started = False

            async def sending(message: dict[str, Any]) -> None:
                nonlocal started
                started = True
                await send(message)

            try:
                await self.http(scope, receive, sending)
            except Exception:
                logger.exception("proxy error on %s", scope.get("method"))
                if not started:
                    await self._answer(send, envelope(500, "Internal proxy error."))
        elif scope["type"] == "lifespan":
            await self.lifespan(receive, send)

    async def lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- one request --

    async def http(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        method: str = scope["method"]
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        query: bytes = scope.get("query_string", b"")
        # The target as received (api/protocol/uvicorn_shim.py), else as uvicorn split it.
        target = (scope.get("extensions") or {}).get(TARGET_EXTENSION) or (
            raw_path + (b"?" + query if query else b"")
        )
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        if method == "GET" and raw_path.decode("latin-1") == self.options.report_path:
            await self.report(send)
            return
        refusal = self._bounds(target, headers) or self._form(method, target)
        if refusal is not None:
            await self._answer(send, refusal)
            return
        if any(name == b"upgrade" for name, _ in headers):
            # Not a WebSocket (the protocol tunnels those): served as HTTP, counted.
            self.record.upgraded()
        match = self.operations.match(method, raw_path)
        operation = match.operation
        body, too_large = await self._read_body(receive)
        if too_large:
            await self._answer(
                send,
                envelope(413, f"The request body is larger than {self.options.max_body} bytes."),
            )
            return
        if operation is None:
            request_issues = [self._unmatched(method, match.allowed, match.outside_base)]
        else:
            request_issues = operation.check_request(match.path_values, query, headers, body)
        if request_issues and self.options.mode == "enforce":
            await self._refuse(send, scope, operation, target, headers, request_issues)
            return
        response: Response | None = None
        try:
            # One deadline for the whole answer (asyncio.timeout: no task per request).
            async with asyncio.timeout(self.options.upstream_timeout):
                head = self._head(scope, target, headers, body)
                response = await self.pool.send(head, body, method.encode())
                response_body, complete = await self._read_answer(response)
        except (TimeoutError, UpstreamTimeout):
            if response is not None:
                response.connection.close()  # half an answer: the connection is lost
            await self._answer(
                send,
                envelope(
                    504,
                    f"The upstream did not answer within {self.options.upstream_timeout:g} s.",
                ),
            )
            return
        except UpstreamUnavailable as exc:
            await self._answer(send, envelope(502, f"The upstream cannot be reached: {exc}"))
            return
        response_issues: list[Issue] = []
        documented = None
        if operation is not None:
            if complete:
                checked = operation.check_response(
                    response.status, response.headers, response_body, head=method == "HEAD"
                )
                documented = checked.documented
                response_issues = checked.issues
                # An undocumented status is a violation whatever the request was, as stock
                # Schemathesis' status_code_conformance has it: a refusal the contract does
                # not list (a 400 where it documents 404) is the server's drift, and a spec
                # documents its refusals with exact statuses, `4XX` or `default`.
                response_issues += answer_to_invalid(
                    operation, request_issues, documented, response, response_body
                )
            else:
                documented = operation.documented_status(response.status)
                logger.warning(
                    "%s: answer body larger than %d bytes, not checked",
                    operation.name,
                    self.options.max_body,
                )
        exchange = self._exchange(
            method, target, headers, response, response_body, request_issues, response_issues
        )
        self.record.add(operation.name if operation else None, documented, exchange)
        self._log(operation, exchange)
        if response_issues and self.options.mode == "enforce" and complete:
            answer = envelope(
                502,
                "The upstream's answer violates the contract.",
                [{"side": "response", **issue} for issue in response_issues],
            )
            await self._answer(send, answer)
            return
        issues = exchange.issues
        dropped = HOP_BY_HOP | self._connection_named(response.headers)
        out = [(name, value) for name, value in response.headers if name.lower() not in dropped]
        bodiless = method == "HEAD" or response.status in (204, 304) or response.status < 200
        if complete and not bodiless and not any(n.lower() == b"content-length" for n, _ in out):
            out.append((b"content-length", str(len(response_body)).encode()))
        if issues:
            out.append((HEADER, header_value(issues)))
        await send({"type": "http.response.start", "status": response.status, "headers": out})
        if complete:
            await send({"type": "http.response.body", "body": response_body})
            return
        await send({"type": "http.response.body", "body": response_body, "more_body": True})
        async for chunk in response.chunks():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    def _bounds(self, target: bytes, headers: list[tuple[bytes, bytes]]) -> Answer | None:
        """serve's bounds on the request target and the headers (api/protocol/bounds.py)."""
        if len(target) > bounds.REQUEST_TARGET.limit:
            return envelope(
                414, f"The request target is longer than {bounds.REQUEST_TARGET.limit} bytes."
            )
        if sum(len(n) + len(v) for n, v in headers) > bounds.HEADERS.limit:
            return envelope(
                431, f"The request headers are larger than {bounds.HEADERS.limit} bytes."
            )
        return None

    @staticmethod
    def _form(method: str, target: bytes) -> Answer | None:
        """Only origin-form targets (`/path?query`) are forwarded: this is not a forward proxy."""
        if method == "CONNECT":
            return envelope(405, "CONNECT is refused: this proxy forwards to its upstream only.")
        if not target.startswith(b"/"):
            return envelope(
                400,
                "Only origin-form request targets (/path?query) are forwarded; absolute-form "
                "and asterisk-form targets are refused: this proxy forwards to its upstream only.",
            )
        return None

    @staticmethod
    def _unmatched(method: str, allowed: tuple[str, ...], outside_base: bool) -> Issue:
        if allowed:
            listed = ", ".join(allowed)
            return {
                "in": "method",
                "message": f"{method} is not documented for this path (documented: {listed})",
            }
        if outside_base:
            return {"in": "path", "message": "not under the document's base path"}
        return {"in": "path", "message": "no operation of the document matches this path"}

    async def _read_body(self, receive: Any) -> tuple[bytes, bool]:
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.options.max_body:
                return b"", True
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks), False

    async def _read_answer(self, response: Response) -> tuple[bytes, bool]:
        """The answer's body up to the bound: (bytes, whether that is all of it)."""
        chunks = []
        size = 0
        async for chunk in response.chunks():
            chunks.append(chunk)
            size += len(chunk)
            if size > self.options.max_body:
                return b"".join(chunks), False
        return b"".join(chunks), True

    @staticmethod
    def _connection_named(headers: list[tuple[bytes, bytes]]) -> set[bytes]:
        named: set[bytes] = set()
        for name, value in headers:
            if name.lower() == b"connection":
                named |= {token.strip().lower() for token in value.split(b",")}
        return named

    def _head(
        self, scope: dict[str, Any], target: bytes, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> bytes:
        """The request head as forwarded: the client's method, target and headers, minus
        hop-by-hop ones, plus X-Forwarded-*."""
        dropped = HOP_BY_HOP | self._connection_named(headers)
        lines = [scope["method"].encode() + b" " + target + b" HTTP/1.1"]
        host = b""
        length = False
        for name, value in headers:
            if name in dropped:
                continue
            if name == b"host":
                host = value
            elif name == b"content-length":
                length = True
            lines.append(name + b": " + value)
        if not host:
            lines.append(b"host: " + self.options.upstream.authority.encode())
        if body and not length:  # it came chunked: forwarded with its length
            lines.append(b"content-length: " + str(len(body)).encode())
        client = scope.get("client")
        if client:
            lines.append(b"x-forwarded-for: " + str(client[0]).encode())
        lines.append(b"x-forwarded-proto: " + scope.get("scheme", "http").encode())
        if host:
            lines.append(b"x-forwarded-host: " + host)
        return b"\r\n".join(lines) + b"\r\n\r\n"

    def _exchange(
        self,
        method: str,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        response: Response | None,
        body: bytes,
        request_issues: list[Issue],
        response_issues: list[Issue],
        status: int | None = None,
    ) -> Exchange:
        exchange = Exchange(
            method,
            target.decode("latin-1"),
            response.status if response is not None else status or 0,
            request_issues,
            response_issues,
        )
        if request_issues or response_issues:  # kept for the report: secrets masked
            exchange.request_headers = self._shown(headers)
            if response is not None:
                exchange.response_headers = self._shown(response.headers)
            exchange.response_body = body[:2000].decode("utf-8", "replace")
        return exchange

    def _shown(self, headers: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
        shown = []
        for name, value in headers:
            text = name.decode("latin-1")
            masked = text.lower() in self.secret
            shown.append((text, "(masked)" if masked else value.decode("latin-1")))
        return shown

    def _log(self, operation: Operation | None, exchange: Exchange) -> None:
        if not exchange.issues or not logger.isEnabledFor(logging.WARNING):
            return
        for side, issues in (
            ("request", exchange.request_issues),
            ("response", exchange.response_issues),
        ):
            for issue in issues:
                logger.warning(
                    json.dumps(
                        {
                            "event": "contract_violation",
                            "mode": self.options.mode,
                            "operation": operation.name if operation else None,
                            "operationId": operation.operation_id if operation else None,
                            "method": exchange.method,
                            "target": exchange.target,
                            "status": exchange.status,
                            "side": side,
                            **issue,
                        }
                    )
                )

    async def _refuse(
        self,
        send: Any,
        scope: dict[str, Any],
        operation: Operation | None,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        issues: list[Issue],
    ) -> None:
        """Enforce mode: the request breaks the contract; answered here, never forwarded."""
        message = "The request violates the contract: " + describe(issues[0])
        if len(issues) > 1:
            message += f" (and {len(issues) - 1} more)"
        answer = None
        if operation is None:
            status = 405 if issues[0]["in"] == "method" else 404
            answer = envelope(status, message, issues)
        else:
            # The spec's 400, else its 422, else its 4XX or default shape, else the envelope.
            status = (
                422 if "422" in operation.responses and "400" not in operation.responses else 400
            )
            if self.documented_error is not None:
                answer = self.documented_error(operation, status, message, issues)
        if answer is None:
            answer = envelope(400, message, issues)
        exchange = self._exchange(
            scope["method"], target, headers, None, answer[2], issues, [], status=answer[0]
        )
        if operation is None:
            self.record.add(None, None, exchange)
        else:
            self.record.refused(operation.name, exchange)
        self._log(operation, exchange)
        await self._answer(send, answer)

    async def _answer(self, send: Any, answer: Answer) -> None:
        status, media_type, body, extra = answer
        headers = [
            (b"content-type", media_type.encode()),
            (b"content-length", str(len(body)).encode()),
            *extra,
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def report(self, send: Any) -> None:
        if self.on_report is not None:
            self.on_report(self.record)
        body = self.record.json()
        await self._answer(send, (200, "application/json", body, []))


__all__ = ["MODES", "ProxyApp", "ProxyOptions", "create_proxy_app", "drain", "envelope"]
