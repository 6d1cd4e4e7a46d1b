"""One outer middleware for the request log and the metrics: every request logged and counted.

The two used to be separate middlewares, each with its own send wrapper, clock readings and
route lookup; together they cost more per request than validation, security and the database
(bench/results.md). `RequestTelemetry` does both with one of each: the request id in and out
and the log line as api/ops/request_log.py describes, the counts and timings as api/ops/metrics.py
does, with the labelled metric children looked up once per (operation, status) and reused.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.openapi.connexion_shim import scope_operation_id, scope_project_id
from api.ops.metrics import metrics
from api.ops.request_log import RouteTemplates, current_request_id, log_request, request_id_from

REQUEST_ID_HEADER = b"x-request-id"


class RequestTelemetry:
    """Request id in and out, one log line and the request metrics (the outermost middleware)."""

    def __init__(self, app: ASGIApp, routes: RouteTemplates) -> None:
        self.app = app
        self.routes = routes
        # (operation label, status) -> (requests counter child, duration histogram child).
        # Bounded: operation labels come from the spec and fixed routes (or `-`), statuses
        # are three-digit codes. prometheus-client caches the same children in `.labels()`,
        # so reusing them counts exactly what calling it every time would.
        self.children: dict[tuple[str, int], tuple[Any, Any]] = {}

    def count(self, operation: str, status: int, seconds: float) -> None:
        children = self.children.get((operation, status))
        if children is None:
            found = metrics()
            children = (
                found.requests.labels(operation=operation, status=str(status)),
                found.duration.labels(operation=operation),
            )
            self.children[(operation, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope.get("headers", []))
        token = current_request_id.set(request_id)
        # Created here, so that what Connexion records in it (operationId, token info) on the
        # shallow copies of this scope further in is visible once the request is answered.
        scope.setdefault("extensions", {})
        header = (REQUEST_ID_HEADER, request_id.encode())
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, request_id
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                own = [v for k, v in headers if k.lower() == REQUEST_ID_HEADER]
                if own:  # a spec that declares X-Request-ID answers its own: log that one
                    request_id = own[0].decode("latin-1")
                else:
                    message = {**message, "headers": [*headers, header]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            operation_id = scope_operation_id(scope)
            route = self.routes.route(scope, operation_id)
            self.count(operation_id or route, status, seconds)
            current_request_id.set(request_id)
            log_request(
                {
                    "method": str(scope.get("method", ""))[:16],
                    "route": route,
                    "operation": operation_id,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                    "project": scope_project_id(scope),
                }
            )
            current_request_id.reset(token)
