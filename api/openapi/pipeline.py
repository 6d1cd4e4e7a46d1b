"""The compiled request pipeline: each contract operation run by one callable built at start-up.

Connexion's AsyncApp runs a request through a layer per concern, and each layer finds the
operation again: routing (two Starlette routers), security, request validation, response
validation (a send wrapper buffering the body), context, then the app's own router and the
decorated view. Measured on the demo render that path cost more than the database work and
the validation together, and even doing nothing it served less than FastAPI doing the work
(issue 22; bench/results.md).

`CompiledPipeline` sits in Connexion's middleware list just before its routing (a public
extension point: `add_middleware`), and Connexion hands it every API as the app starts, as it
does its own middlewares. For each operation it takes what Connexion resolved and builds
(api/openapi/connexion_shim.py): the handler bound through the API's resolver, the security
verification from its `security_map`, the validators of its `validator_map`, the decorated
view and Connexion's response checks; `CompiledOperation` then runs them in that order in one
call, and answers with the response it holds, checked whole. A request it routes never reaches
Connexion's layers; every other one (an unknown path, a method the path does not allow, the
document, a websocket) goes on through them unchanged, so 404, 405 with `Allow` and the rest are
Connexion's own answers. Errors raised on the way are the same exceptions, answered by the same
handlers (api/errors.py), so the envelope is byte for byte the stock path's; tests/
test_pipeline.py sends the same requests through both (`CRAFTKIT_PIPELINE=connexion` keeps the
stock stack) and compares status, headers and body.

Routing is Starlette's path matching (`compile_path` over the template Connexion registers,
convertors included), tried in the order Connexion's routers try routes: APIs by base path,
operations in document order. The path is the decoded one Starlette routes on; `%2F` never
gets here (api/protocol/guards.py refuses it before routing).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connexion.exceptions import ResolverError
from connexion.lifecycle import ConnexionRequest
from starlette.convertors import Convertor
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from api.openapi.connexion_shim import (
    ROUTED_METHODS,
    ResponseChecks,
    SpecAwareMiddleware,
    decorated_view,
    enter_operation,
    mark_routed,
    path_only_view,
    request_checks,
    resolve_operation,
    route_template,
    security_check,
    security_handlers,
)

logger = logging.getLogger("craftkit.pipeline")


class CompiledOperation:
    """One operation: security, parameters (and body), the view, response checks, the answer."""

    __slots__ = (
        "base_path",
        "body",
        "direct",
        "operation",
        "operation_id",
        "parameters",
        "responses",
        "verify",
        "view",
    )

    def __init__(self, operation: Any, base_path: str, options: Mapping[str, Any], handlers: Any):
        self.operation = operation
        self.operation_id: str | None = operation.operation_id
        self.base_path = base_path
        self.verify = security_check(operation, handlers)
        self.parameters, self.body = request_checks(operation, options, self._answer)
        self.direct = path_only_view(operation, options)
        # Connexion's decorated view only where the handler is not called directly.
        self.view = decorated_view(operation, options) if self.direct is None else None
        self.responses = (
            ResponseChecks(operation, options) if options.get("validate_responses") else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        mark_routed(scope, self.operation_id, self.base_path)
        if self.verify is not None:
            await self.verify(ConnexionRequest(scope))
        if self.body is not None:
            await self.body(scope, receive, send)  # Connexion's: parameters, media type, body
            return
        self.parameters.validate(scope)
        await self._answer(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        context = enter_operation(scope, receive, self.operation)
        if self.direct is not None:
            response = await self.direct(scope["path_params"], context)
        else:
            assert self.view is not None
            response = await self.view()
        checks = self.responses
        if checks is not None:
            body = getattr(response, "body", None)
            if isinstance(response, Response) and isinstance(body, bytes):
                checks.check(scope, response.status_code, response.raw_headers, body)
            else:  # an answer it streams: checked as Connexion checks it, message by message
                response = checks.streamed(response)
        await response(scope, receive, send)


@dataclass(frozen=True)
class _Route:
    pattern: re.Pattern[str]
    convertors: dict[str, Convertor[Any]]
    operation: CompiledOperation


class CompiledPipeline(SpecAwareMiddleware):
    """The router to every compiled operation; what it does not route goes on to `app`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Per API, most specific base path first as Connexion mounts them: method -> routes.
        self.by_api: list[tuple[str, dict[str, list[_Route]]]] = []

    def add_api(self, specification: Any, **options: Any) -> None:
        base_path = options.pop("base_path", None)
        if base_path is None:
            base_path = specification.base_path
        base_path = str(base_path or "").rstrip("/")
        handlers = security_handlers(options)
        by_method: dict[str, list[_Route]] = {}
        for path, item in specification.get("paths", {}).items():
            for method in item:
                if method not in ROUTED_METHODS:
                    continue
                try:
                    operation = resolve_operation(specification, path, method, options)
                except ResolverError:
                    continue  # Connexion's routing answers it (its resolver_error handler)
                pattern, _format, convertors = compile_path(route_template(operation, path))
                compiled = CompiledOperation(operation, base_path, options, handlers)
                by_method.setdefault(method.upper(), []).append(
                    _Route(pattern, convertors, compiled)
                )
        self.by_api.append((base_path, by_method))
        self.by_api.sort(key=lambda api: -len(api[0]))

    def route(self, scope: Scope) -> tuple[CompiledOperation, dict[str, Any]] | None:
        """The operation `scope` is for, with its path parameters; None: Connexion's to answer."""
        path: str = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if "\n" in path:
            return None  # Connexion mounts each API on `{path:path}`, whose `.*` stops at one
        method = scope["method"]
        for base_path, by_method in self.by_api:
            if base_path:
                if not path.startswith(base_path + "/"):
                    continue
                inner = path[len(base_path) :]
            elif path.startswith("/"):
                inner = path
            else:
                continue
            routes = by_method.get(method, ())
            if method == "HEAD":  # Starlette routes HEAD to a GET route as well
                routes = [*routes, *by_method.get("GET", ())]
            for route in routes:
                matched = route.pattern.match(inner)
                if matched is not None:
                    values = {
                        name: route.convertors[name].convert(value)
                        for name, value in matched.groupdict().items()
                    }
                    return route.operation, values
            return None  # the first API under whose base path it is answers it, as a Mount does
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            found = self.route(scope)
            if found is not None:
                operation, path_params = found
                scope["path_params"] = path_params
                await operation(scope, receive, send)
                return
        await self.app(scope, receive, send)


def compiled_operations(pipeline: CompiledPipeline) -> list[CompiledOperation]:
    """Every operation `pipeline` routes (for tests and start-up checks)."""
    return [
        route.operation
        for _base, by_method in pipeline.by_api
        for routes in by_method.values()
        for route in routes
    ]
