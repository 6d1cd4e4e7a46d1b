"""What a request may be before it is routed: an exact contract path, within the bounds.

`RequestGuards` runs after the error middleware and before routing, in the server and the
mock alike (api/assembly.py), so each refusal is the envelope and no view can run outside
Connexion's security and validation:
- a path that is not exactly one of the contract's paths or the named operational routes is
  404 here. Werkzeug merged `//v1/…` into `/v1/…` and ran the view with no operation context
  (a 500, issue 8 row 2); Starlette answered `/v1//…` with a 308 echoing the Host header
  (row 6). Unknown paths also never wait for a worker thread, whatever the database does;
- the request target, headers, query parameters and body are bounded (api/protocol/bounds.py); the
  mock, which serves documents with request bodies and many parameters, passes its own;
- two `Authorization` headers are 401: servers and proxies disagree on which one counts;
- `get_only` routes (the document's) answer other methods 405 with `Allow` on both app kinds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from api.protocol import bounds


def path_pattern(templates: Iterable[str]) -> re.Pattern[str]:
    """One regex matching exactly the given paths; `{name}` matches one non-empty segment."""
    alternatives = []
    for template in templates:
        parts = re.split(r"(\{[^}/]+\})", template)
        alternatives.append(
            "".join(r"[^/\n]+" if p.startswith("{") else re.escape(p) for p in parts)
        )
    return re.compile("|".join(f"(?:{a})" for a in alternatives))


class RequestGuards:
    def __init__(
        self,
        app: ASGIApp,
        paths: Iterable[str],
        max_body: int | None = bounds.BODY.limit,
        max_query_parameters: int = bounds.QUERY_PARAMETERS.limit,
        get_only: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.paths = path_pattern(paths)
        self.get_only = frozenset(get_only)
        self.max_body = max_body  # None: bodies are the validators' business
        self.max_query_parameters = max_query_parameters

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.check(scope)
        await self.app(scope, receive, send)

    def check(self, scope: Scope) -> None:
        query: bytes = scope.get("query_string", b"")
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        # The target as sent: path, then `?` and the query string when there is one.
        if len(raw_path) + len(query) + (1 if query else 0) > bounds.REQUEST_TARGET.limit:
            raise HTTPException(
                414, f"The request target is longer than {bounds.REQUEST_TARGET.limit} bytes."
            )
        if not self.paths.fullmatch(scope["path"]) or b"%2f" in raw_path.lower():
            # `%2F` is data inside a segment (RFC 3986 §2.2), yet routers match the decoded
            # path, where it splits the segment: no path of ours can match it.
            raise HTTPException(404)  # the error module's "No route matches" envelope
        header_bytes = 0
        authorizations = 0
        body = False
        for name, value in scope["headers"]:
            header_bytes += len(name) + len(value)
            if name == b"authorization":
                authorizations += 1
            elif name == b"transfer-encoding":
                body = body or self.max_body is not None
            elif name == b"content-length" and self.max_body is not None:
                body = body or not value.strip().isdigit() or int(value) > self.max_body
        if header_bytes > bounds.HEADERS.limit:
            raise HTTPException(
                431, f"The request headers are larger than {bounds.HEADERS.limit} bytes."
            )
        if query and _parameters(query, self.max_query_parameters) > self.max_query_parameters:
            raise HTTPException(
                400, f"Too many query parameters (at most {self.max_query_parameters})."
            )
        if body:
            raise HTTPException(
                413,
                "This API takes no request body."
                if self.max_body == 0
                else f"The request body is larger than {self.max_body} bytes.",
            )
        if authorizations > bounds.AUTHORIZATION.limit:
            raise HTTPException(401, "Send one Authorization header, not several.")
        if scope["method"] not in ("GET", "HEAD") and scope["path"] in self.get_only:
            raise HTTPException(405, headers={"Allow": "GET, HEAD"})


def _parameters(query: bytes, most: int) -> int:
    """Parameters in a query string, exactly when there may be more than `most`: `&&&` holds
    none (empty pieces are no parameters, to every parser)."""
    count = query.count(b"&") + 1
    return count if count <= most else sum(1 for piece in query.split(b"&") if piece)
