"""`assemble()`: the one wiring shared by the server (api/server/app.py) and the mock (api/mock/).

Spec, validators, security, middleware, error envelope and the document's own routes are
wired here, in one order, for a `connexion.FlaskApp` or a `connexion.AsyncApp`, with what
every app has besides (request log, metrics, `/metrics`, Swagger UI: api/ops/operational.py).
What differs between the two callers is passed in: the resolver, the security map, their
extra middleware, error handlers and routes. Nothing database-related is imported here, so
the mock stays free of db/.
"""

from __future__ import annotations

import functools
import gc
import json
import pathlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import connexion
import orjson
import starlette.exceptions
import werkzeug.exceptions
from connexion.middleware import MiddlewarePosition
from connexion.options import SwaggerUIOptions
from connexion.resolver import Resolver
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api import errors
from api.openapi.pipeline import CompiledPipeline
from api.openapi.spec import OpenAPI31Specification, add_api
from api.openapi.validation import remember_written
from api.ops import operational
from api.protocol import bounds
from api.protocol.guards import RequestGuards
from api.protocol.middleware import ExactPathRouting, HeadAsGet, NoLineFeedInPaths, middlewares

# Routes every assembled app serves besides the contract's operations: the document as written.
SPEC_ROUTES = ("/openapi.json", "/openapi.yaml")

Body = Callable[[], tuple[bytes, str]]  # () -> (body, media type); may block: run in a thread


@dataclass(frozen=True)
class Route:
    """A GET route outside the contract (the document, health), written once for both apps."""

    path: str
    name: str
    body: Body


@dataclass(frozen=True)
class Middleware:
    """An ASGI middleware class, where Connexion should put it, and its options."""

    cls: type
    position: MiddlewarePosition
    options: Mapping[str, Any] = field(default_factory=dict)


def assemble(
    spec: OpenAPI31Specification,
    spec_path: str | pathlib.Path,
    *,
    resolver: Resolver,
    security_map: Mapping[str, type],
    app_class: type[connexion.FlaskApp] | type[connexion.AsyncApp] = connexion.FlaskApp,
    validate_responses: bool = True,
    routing: type[ExactPathRouting] = ExactPathRouting,
    middleware: Sequence[Middleware] = (),
    domain_errors: Mapping[type[Exception], errors.Handler] | None = None,
    routes: Sequence[Route] = (),
    answered_paths: Sequence[str] = (),
    max_body: int | None = bounds.BODY.limit,
    strict_query: bool = False,
    compiled: bool = False,
    on_shutdown: Callable[[], Awaitable[None]] | None = None,
) -> Any:
    """The contract's app: `spec` served through `resolver`, strict and validated both ways.

    `middleware` is added before the shared middleware at the same position (so the first
    given is the outermost); `routes` after the document's own. `RequestGuards` lets through
    only the spec's paths, the routes and `answered_paths` (answered by a middleware), within
    the bounds of api/protocol/bounds.py; `max_body=None` leaves bodies to the validators.
    Query parameters an operation does not declare are ignored (OpenAPI's default) unless
    `strict_query`. `compiled` runs each operation through api/openapi/pipeline.py's compiled
    pipeline instead of Connexion's layers (AsyncApp only). `on_shutdown` is awaited when
    the app stops (the ASGI lifespan's shutdown).
    """
    options: dict[str, Any] = {
        "swagger_ui_options": SwaggerUIOptions(serve_spec=False, swagger_ui=False),
        "middlewares": middlewares(routing),
        "lifespan": functools.partial(frozen_heap, on_shutdown=on_shutdown),
    }
    if app_class is connexion.FlaskApp:
        # No /static/<path> route: the app serves the contract's paths and its listed routes.
        options["server_args"] = {"static_folder": None}
    app = app_class(__name__, **options)
    if isinstance(app, connexion.FlaskApp):
        _configure_flask(app)
    add_api(
        app,
        spec,
        resolver=resolver,
        strict_validation=strict_query,
        validate_responses=validate_responses,
        security_map=dict(security_map),
        jsonifier=JSONIFIER,
    )
    # Outermost, before the callers' middleware: every request is logged and counted,
    # CORS preflights included; /metrics and Swagger UI are served on every app.
    operational.install(
        app, spec, fixed_routes=[*SPEC_ROUTES, *(r.path for r in routes), *answered_paths]
    )
    # First at its position, so the bounds hold for every route, health included.
    app.add_middleware(
        RequestGuards,
        position=MiddlewarePosition.BEFORE_SWAGGER,
        paths=[
            spec.base_path + path
            for path in [*spec.raw.get("paths", {}), *SPEC_ROUTES, *(r.path for r in routes)]
        ]
        + list(answered_paths),
        max_body=max_body,
        # The AsyncApp's GET-only routes lose other methods to the API's mount (a 404): the
        # guards answer them 405 with Allow, as the FlaskApp does.
        get_only=[
            prefix + path
            for path in [*SPEC_ROUTES, *(r.path for r in routes)]
            for prefix in {"", spec.base_path}
        ],
        max_query_parameters=max(bounds.QUERY_PARAMETERS.limit, 2 * _most_query_parameters(spec)),
    )
    for extra in middleware:
        app.add_middleware(extra.cls, position=extra.position, **extra.options)
    app.add_middleware(HeadAsGet, position=MiddlewarePosition.BEFORE_EXCEPTION)
    app.add_middleware(NoLineFeedInPaths, position=MiddlewarePosition.BEFORE_SWAGGER)
    if compiled:
        if not isinstance(app, connexion.AsyncApp):
            raise ValueError("the compiled pipeline serves an AsyncApp's operations only")
        # Last before Connexion's own layers: every guard and operational route runs first.
        app.add_middleware(CompiledPipeline, position=MiddlewarePosition.BEFORE_SWAGGER)
    for route in [*spec_routes(spec, pathlib.Path(spec_path)), *routes]:
        add_route(app, route)
    errors.register(app, domain_errors)
    return app


@asynccontextmanager
async def frozen_heap(
    _app: Any, on_shutdown: Callable[[], Awaitable[None]] | None = None
) -> AsyncIterator[None]:
    """While the app serves, keep what start-up built out of the garbage collector's scans.

    The app, its compiled validators and every imported module are over a million objects
    that live as long as the process; each full (generation 2) collection walked them all,
    pausing the event loop 40-65 ms several times a minute under load: most of the p99 at 32
    connections (bench/results.md). `gc.freeze()` moves them to a generation that is never
    scanned, so a full collection only walks objects made since; shutdown unfreezes them.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        if on_shutdown is not None:
            await on_shutdown()


class CompactJSON:
    """Connexion's jsonifier, with orjson: compact bytes, keys in the order handlers wrote them.

    Connexion's own pretty-prints with `json` (indent=2): 190 µs and 7.5 KB for the
    engagement answer, where orjson takes 4 µs and 4.6 KB.
    """

    def dumps(self, data: Any, **_kwargs: Any) -> bytes:
        body = orjson.dumps(data)
        remember_written(body, data)  # its response check reads `data`, not the bytes again
        return body

    def loads(self, data: str | bytes) -> Any:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            return data  # as Connexion's does: a body that is not JSON stays as it came


JSONIFIER = CompactJSON()  # every app's; api/openapi/json_views.py writes with the same


def _most_query_parameters(spec: OpenAPI31Specification) -> int:
    """The most query parameters any operation declares (path-level ones included)."""
    most = 0
    for path, _method, operation in spec.operations():
        declared = [
            *spec.spec["paths"][path].get("parameters", []),
            *operation.get("parameters", []),
        ]
        most = max(most, sum(1 for p in declared if isinstance(p, dict) and p.get("in") == "query"))
    return most


def spec_routes(spec: OpenAPI31Specification, spec_path: pathlib.Path) -> list[Route]:
    """The document as written: the YAML file's bytes, and the same document as JSON."""
    raw_yaml = spec_path.read_bytes()
    as_json = json.dumps(spec.raw, default=str).encode()
    return [
        Route("/openapi.json", "openapi_json", lambda: (as_json, "application/json")),
        Route("/openapi.yaml", "openapi_yaml", lambda: (raw_yaml, "application/yaml")),
    ]


def add_route(app: Any, route: Route) -> None:
    """Add `route` with the view signature the app's framework expects."""
    if isinstance(app, connexion.FlaskApp):
        import flask

        def flask_view() -> flask.Response:
            body, media_type = route.body()
            return flask.Response(body, mimetype=media_type)

        app.add_url_rule(route.path, route.name, flask_view, methods=["GET"])
        return

    async def asgi_view(_request: Any) -> Response:
        body, media_type = await run_in_threadpool(route.body)
        return Response(body, media_type=media_type)

    app.add_url_rule(route.path, route.name, asgi_view, methods=["GET"])


def _configure_flask(app: connexion.FlaskApp) -> None:
    flask_app = app.app
    flask_app.json.sort_keys = False  # type: ignore[attr-defined]  # keep the contract's key order
    # The contract declares no OPTIONS; Flask's automatic answer would be an undocumented 200.
    flask_app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False
    flask_app.register_error_handler(werkzeug.exceptions.HTTPException, _reraise_http_error)


def _reraise_http_error(exc: werkzeug.exceptions.HTTPException) -> None:
    """Hand Flask's routing errors to the error module, keeping `Allow` (Connexion drops it)."""
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    raise starlette.exceptions.HTTPException(
        exc.code or 500, detail=exc.description, headers=headers
    )
