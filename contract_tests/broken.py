"""Deliberately broken variants of the server: the contract suite must catch every one.

Each variant is the real app behind a small ASGI wrapper that corrupts what it answers (after
the server's own response validation, as a bug in a proxy or a serializer would), or, for
tenancy, the real app with the tenancy filter taken out of its query.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Rewrite = Callable[[Scope, int, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]


class RewriteResponses:
    """Buffer each response of `app` and hand it to `rewrite` before it is sent."""

    def __init__(self, app: ASGIApp, rewrite: Rewrite) -> None:
        self.app = app
        self.rewrite = rewrite

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/openapi"):
            await self.app(scope, receive, send)
            return
        start: Message = {}
        body = b""

        async def buffer(message: Message) -> None:
            nonlocal start, body
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                body += message.get("body", b"")
                if not message.get("more_body", False):
                    await self._send(scope, start, body, send)

        await self.app(scope, receive, buffer)

    async def _send(self, scope: Scope, start: Message, body: bytes, send: Send) -> None:
        headers = {k.decode().lower(): v.decode() for k, v in start.get("headers", [])}
        status, headers, body = self.rewrite(scope, start["status"], headers, body)
        headers["content-length"] = str(len(body))
        raw = [(k.encode(), v.encode()) for k, v in headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})


def _json_200(change: Callable[[dict[str, Any]], None]) -> Rewrite:
    def rewrite(
        scope: Scope, status: int, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if status == 200 and body and scope["path"].endswith("/engagement"):
            document = json.loads(body)
            change(document)
            body = json.dumps(document).encode()
        return status, headers, body

    return rewrite


def _count_as_string(document: dict[str, Any]) -> None:
    document["counts"]["viewed"] = str(document["counts"]["viewed"])


def _without_counts(document: dict[str, Any]) -> None:
    del document["counts"]


def _problem_json(
    scope: Scope, status: int, headers: dict[str, str], body: bytes
) -> tuple[int, dict[str, str], bytes]:
    if status >= 400:
        headers["content-type"] = "application/problem+json"
        body = json.dumps({"type": "about:blank", "title": "Error", "status": status}).encode()
    return status, headers, body


def _500_on_malformed_id(
    scope: Scope, status: int, headers: dict[str, str], body: bytes
) -> tuple[int, dict[str, str], bytes]:
    parts = scope["path"].split("/")
    if len(parts) == 5 and parts[2] == "renders":
        try:
            uuid.UUID(parts[3])
        except ValueError:
            error = {"error": {"code": "internal_error", "message": "Internal server error."}}
            return 500, {"content-type": "application/json"}, json.dumps(error).encode()
    return status, headers, body


def _valid_ids_refused(
    scope: Scope, status: int, headers: dict[str, str], body: bytes
) -> tuple[int, dict[str, str], bytes]:
    """A stored render answered with the 400 envelope, as if its valid id were malformed."""
    if status == 200 and scope["path"].endswith("/engagement"):
        issue = {"in": "path", "name": "id", "message": "rejected"}
        error = {"error": {"code": "invalid_request", "message": "Bad id.", "issues": [issue]}}
        return 400, {"content-type": "application/json"}, json.dumps(error).encode()
    return status, headers, body


def _400_on_malformed_id(
    scope: Scope, status: int, headers: dict[str, str], body: bytes
) -> tuple[int, dict[str, str], bytes]:
    """A malformed id answered 400 (as the server once did): a status the contract lacks."""
    parts = scope["path"].split("/")
    if status == 404 and len(parts) == 5 and parts[2] == "renders":
        try:
            uuid.UUID(parts[3])
        except ValueError:
            issue = {"in": "path", "name": "id", "message": "not a valid uuid"}
            error = {"error": {"code": "invalid_request", "message": "Bad id.", "issues": [issue]}}
            return 400, {"content-type": "application/json"}, json.dumps(error).encode()
    return status, headers, body


def _auth_ignored(app: ASGIApp, key: str) -> ASGIApp:
    """Requests without credentials are served as the owner's."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"authorization"]
            headers.append((b"authorization", f"Bearer {key}".encode()))
            scope = {**scope, "headers": headers}
        await app(scope, receive, send)

    return wrapped


# name -> (build the variant from the app and the owner's key, checks that may catch it)
VARIANTS: dict[str, tuple[Callable[[ASGIApp, str], ASGIApp], set[str]]] = {
    "count returned as a string": (
        lambda app, key: RewriteResponses(app, _json_200(_count_as_string)),
        {"response_schema_conformance"},
    ),
    "counts key missing": (
        lambda app, key: RewriteResponses(app, _json_200(_without_counts)),
        {"response_schema_conformance"},
    ),
    "errors as problem+json": (
        lambda app, key: RewriteResponses(app, _problem_json),
        {"content_type_conformance", "response_schema_conformance"},
    ),
    "500 on a malformed id": (
        lambda app, key: RewriteResponses(app, _500_on_malformed_id),
        {"not_a_server_error", "status_code_conformance"},
    ),
    "valid ids refused with 400": (
        lambda app, key: RewriteResponses(app, _valid_ids_refused),
        {"positive_data_acceptance", "status_code_conformance"},
    ),
    "a malformed id answered 400": (
        lambda app, key: RewriteResponses(app, _400_on_malformed_id),
        {"status_code_conformance"},
    ),
    "any or no key served as the owner": (
        _auth_ignored,
        {"ignored_auth", "cross_tenant_read"},
    ),
}


def create_broken_app() -> ASGIApp:
    """uvicorn factory: the real app (settings from the environment) with counts as strings."""
    from api.server.app import create_app

    return RewriteResponses(create_app(), _json_200(_count_as_string))
