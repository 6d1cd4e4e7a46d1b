"""What every app gets besides the contract: request log, metrics, `/metrics` and Swagger UI.

All four are pure ASGI middlewares, so the real server (FlaskApp or AsyncApp) and the mock get
them the same way, from one call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connexion.middleware import MiddlewarePosition

from api.openapi.spec import OpenAPI31Specification
from api.ops import docs_ui
from api.ops.metrics import METRICS_PATH, MetricsEndpoint
from api.ops.request_log import RouteTemplates
from api.ops.telemetry import RequestTelemetry

# Served by this module's middlewares on every app; `/ui/{file}` stands for Swagger UI's assets.
ROUTES = (METRICS_PATH, *docs_ui.ROUTES)


def route_templates(
    spec: OpenAPI31Specification, operation_ids: Mapping[str, str] | None, fixed: Sequence[str]
) -> RouteTemplates:
    """operationId → path template for `spec` (or the ids given), plus the fixed routes."""
    if operation_ids is None:
        # Keyed as Connexion names operations: by operationId, else as the mock does.
        operation_ids = {
            str(definition.get("operationId") or f"{method.upper()} {path}"): path
            for path, method, definition in spec.operations()
        }
    return RouteTemplates(operation_ids, [*fixed, *ROUTES])


def install(
    app: Any,
    spec: OpenAPI31Specification,
    *,
    fixed_routes: Sequence[str],
    operation_ids: Mapping[str, str] | None = None,
) -> None:
    """Add the request log and metrics (one middleware, the outermost) and the two endpoints.

    Call it before any other `BEFORE_EXCEPTION` middleware: the first added is the outermost,
    so every request is logged and counted, CORS preflights and HEAD included.
    """
    routes = route_templates(spec, operation_ids, fixed_routes)
    title = str(spec.raw.get("info", {}).get("title") or "API")
    app.add_middleware(
        RequestTelemetry, position=MiddlewarePosition.BEFORE_EXCEPTION, routes=routes
    )
    # Inside the exception middleware: a wrong method gets the 405 envelope.
    app.add_middleware(MetricsEndpoint, position=MiddlewarePosition.BEFORE_SWAGGER)
    app.add_middleware(
        docs_ui.SwaggerUI,
        position=MiddlewarePosition.BEFORE_SWAGGER,
        title=title,
        served=docs_ui.served_view(spec.raw),
    )
