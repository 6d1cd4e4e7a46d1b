"""CORS on the real server, for browser apps on the origins `CRAFTKIT_CORS_ORIGINS` names.

Off unless origins are named: the API is keyed by bearer tokens, and a page on any origin
should not be able to call it unasked. When on, Starlette's `CORSMiddleware` does the work,
allowing no more than the contract uses: its methods (HEAD with GET, answered as GET), and
`Authorization` plus the header parameters its operations declare. A refused preflight gets
the error envelope (403) naming what was refused, where Starlette answers a plain-text 400;
CORS headers go on every other answer, error envelopes included, so a page can read a 401.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from api.openapi.spec import OpenAPI31Specification
from api.protocol.middleware import send_whole

# Headers a page may read from an answer, besides those the contract declares (as the mock's).
EXPOSED_HEADERS = ("WWW-Authenticate", "Allow", "Retry-After", "X-Request-ID")
PREFLIGHT_MAX_AGE = 600  # seconds a browser may reuse a preflight's answer


def contract_methods(spec: OpenAPI31Specification) -> list[str]:
    """The methods of the contract's operations (HEAD beside GET), and OPTIONS."""
    methods = {method.upper() for _path, method, _operation in spec.operations()}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods | {"OPTIONS"})


def contract_request_headers(spec: OpenAPI31Specification) -> list[str]:
    """`Authorization` and every header parameter the contract's operations declare."""
    names = {"Authorization"}
    for path, _method, operation in spec.operations():
        item = spec.spec["paths"][path]
        for parameter in [*item.get("parameters", []), *operation.get("parameters", [])]:
            if isinstance(parameter, dict) and parameter.get("in") == "header":
                names.add(str(parameter["name"]))
    return sorted(names)


def contract_response_headers(spec: OpenAPI31Specification) -> list[str]:
    """Every response header the contract declares, so cross-origin pages may read them."""
    return sorted(
        {
            name
            for _path, _method, operation in spec.operations()
            for response in (operation.get("responses") or {}).values()
            if isinstance(response, dict)
            for name in (response.get("headers") or {})
        }
    )


class ContractCORS(CORSMiddleware):
    """Starlette's CORS for `origins`, limited to what the contract `spec` uses."""

    def __init__(self, app: ASGIApp, spec: OpenAPI31Specification, origins: Sequence[str]) -> None:
        super().__init__(
            app,
            allow_origins=list(origins),
            allow_methods=contract_methods(spec),
            allow_headers=contract_request_headers(spec),
            expose_headers=[*EXPOSED_HEADERS, *contract_response_headers(spec)],
            max_age=PREFLIGHT_MAX_AGE,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope) if scope["type"] == "http" else None
        if (
            headers is not None
            and scope["method"] == "OPTIONS"
            and "origin" in headers
            and "access-control-request-method" in headers
        ):
            response = self.preflight_response(headers)
            if response.status_code < 400:
                await response(scope, receive, send)
            else:
                await self.refuse(headers, send)
            return
        await super().__call__(scope, receive, send)

    async def refuse(self, headers: Headers, send: Send) -> None:
        """A refused preflight: the envelope, saying which origin, method or headers."""
        issues = []
        origin = headers["origin"]
        if not self.is_allowed_origin(origin=origin):
            issues.append(("Origin", f"origin {origin!r} is not allowed"))
        method = headers["access-control-request-method"]
        if method not in self.allow_methods:
            allowed = ", ".join(self.allow_methods)
            issues.append(
                (
                    "Access-Control-Request-Method",
                    f"method {method!r} is not allowed (allowed: {allowed})",
                )
            )
        requested = [
            name.strip()
            for name in headers.get("access-control-request-headers", "").lower().split(",")
            if name.strip()
        ]
        refused = [name for name in requested if name not in self.allow_headers]
        if refused:
            issues.append(
                ("Access-Control-Request-Headers", f"headers not allowed: {', '.join(refused)}")
            )
        message = "CORS preflight refused: " + "; ".join(text for _, text in issues) + "."
        body = orjson.dumps(
            {
                "error": {
                    "code": "forbidden",
                    "message": message,
                    "issues": [{"in": "header", "name": n, "message": m} for n, m in issues],
                }
            }
        )
        await send_whole(send, 403, body, "application/json", [(b"vary", b"Origin")])
