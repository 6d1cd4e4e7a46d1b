"""The mock app: built by the server's `assemble()`, answered from the spec by middleware."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import connexion
from connexion.exceptions import InvalidSpecification
from connexion.lifecycle import ConnexionRequest
from connexion.middleware import MiddlewarePosition
from connexion.resolver import Resolution, Resolver
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.routing import Route, Router, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import errors
from api.assembly import Middleware, assemble
from api.mock.credentials import mock_security_map, pattern_shape, read_keys
from api.mock.generate import Generator
from api.mock.hooks import HOOKS
from api.mock.prefer import PRISM_PARAMS, Preferences, parse_prefer
from api.mock.replies import InvalidExample, MockOperation, operation_key
from api.openapi.connexion_shim import scope_operation_id
from api.openapi.spec import OpenAPI31Specification
from api.openapi.validation import RequestValidationProblem
from api.protocol.middleware import ExactPathRouting

logger = logging.getLogger("craftkit.mock")

OPTIONS_ENV = "CRAFTKIT_MOCK_OPTIONS"
EXTENSION = "craftkit_mock"  # scope["extensions"] key shared by MockRequest and MockResponder
# A path parameter Connexion routes with Starlette's int or float convertor.
TYPED_SEGMENT = re.compile(r"\{(\w+):(?:int|float)\}")
# Headers a page may read from a cross-origin response, besides those the spec declares.
EXPOSED_HEADERS = ("Preference-Applied", "WWW-Authenticate", "Allow", "Retry-After", "X-Request-ID")


@dataclass(frozen=True)
class MockOptions:
    """What `craftkit mock` was asked for; travels as JSON in the environment to reloaders."""

    spec_path: str
    keys_file: str | None = None
    cors_origins: tuple[str, ...] = ("*",)
    delay_ms: int = 0
    token_pattern: str | None = None  # default: the shape the security scheme describes
    any_token: bool = False

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MockOptions:
        raw = json.loads((os.environ if environ is None else environ)[OPTIONS_ENV])
        raw["cors_origins"] = tuple(raw.get("cors_origins") or ("*",))
        return cls(**raw)


# --- Connexion wiring -------------------------------------------------------------------------


async def _never_called() -> None:  # pragma: no cover - MockResponder answers first
    raise RuntimeError("mock operations are answered by MockResponder")


class MockResolver(Resolver):
    """Every operation resolves, operationId or not, to a name MockResponder looks up."""

    def resolve(self, operation: Any) -> Resolution:
        key = operation_key(operation.operation_id, operation.method, operation.path)
        return Resolution(_never_called, key)


def _info(scope: Scope) -> dict[str, Any]:
    return scope.setdefault("extensions", {}).setdefault(EXTENSION, {})  # type: ignore[no-any-return]


class MockResponder:
    """Answers a routed, authenticated, validated request from the spec (Connexion's handler slot).

    Sits at BEFORE_CONTEXT, inside response validation, so whatever it sends is checked.
    """

    def __init__(self, app: ASGIApp, operations: Mapping[str, MockOperation]) -> None:
        self.app = app
        self.operations = operations

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        operation = self.operations.get(scope_operation_id(scope) or "")
        if scope["type"] != "http" or operation is None:
            await self.app(scope, receive, send)
            return
        info = _info(scope)
        prefs = info.get("prefs") or Preferences()
        reply = await run_in_threadpool(operation.reply, prefs)
        info["source"] = reply.source
        headers = dict(reply.headers)
        if reply.applied:
            headers["Preference-Applied"] = ", ".join(reply.applied)
        response = Response(
            reply.encoded(), status_code=reply.status, headers=headers, media_type=reply.media_type
        )
        await response(scope, receive, send)


def envelope_response(
    status: int, message: str, *, issues: Any = None, headers: Mapping[str, str] | None = None
) -> Response:
    """The error module's envelope, for middlewares outside Connexion's exception handling."""
    envelope = errors.envelope(status, message, issues=issues, headers=dict(headers or {}))
    return Response(
        envelope.body,
        status_code=envelope.status_code,
        headers=dict(envelope.headers),
        media_type="application/json",
    )


def is_preflight(scope: Scope) -> bool:
    headers = Headers(scope=scope)
    return (
        scope["method"] == "OPTIONS"
        and "origin" in headers
        and "access-control-request-method" in headers
    )


def path_methods(spec: OpenAPI31Specification) -> list[tuple[re.Pattern[str], tuple[str, ...]]]:
    """For each path of the spec, a pattern matching it and the methods it declares."""
    methods: dict[str, list[str]] = {}
    for path, method, _definition in spec.operations():
        methods.setdefault(path, []).append(method.upper())
    table = []
    for path, declared in methods.items():
        pattern = "".join(
            "[^/]+" if part.startswith("{") else re.escape(part)
            for part in re.split(r"(\{[^}]+\})", path)
        )
        if "GET" in declared and "HEAD" not in declared:
            declared.append("HEAD")  # answered as GET (HeadAsGet)
        # Concrete paths first, as routing tries them (`/pets/mine` before `/pets/{id}`).
        table.append((path.count("{"), re.compile(pattern), tuple(declared)))
    return [(pattern, declared) for _, pattern, declared in sorted(table, key=lambda r: r[0])]


class MockCORS(CORSMiddleware):
    """Starlette's CORS, saying in a preflight only the methods the path declares, as Prism does.

    A refused preflight is answered with the envelope, saying what failed (Starlette answers a
    plain-text `400 Disallowed CORS origin`). `paths` comes from `path_methods(spec)`; without
    it, the methods given are listed for every path.
    """

    def __init__(
        self,
        app: ASGIApp,
        paths: list[tuple[re.Pattern[str], tuple[str, ...]]] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(app, **options)
        self.paths = paths

    def methods_at(self, path: str) -> tuple[str, ...] | None:
        if self.paths is None:
            return None
        for pattern, methods in self.paths:
            if pattern.fullmatch(path):
                return methods
        return ()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_preflight(scope):
            methods = self.methods_at(scope["path"])
            response = self.preflight_response(Headers(scope=scope), methods)
            await response(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def preflight_response(
        self, request_headers: Headers, methods: tuple[str, ...] | None = None
    ) -> Response:
        response = super().preflight_response(request_headers)
        method = request_headers["access-control-request-method"]
        wrong_method = methods is not None and method not in methods
        if methods is not None and response.status_code < 400:
            response.headers["access-control-allow-methods"] = ", ".join(methods)
        if response.status_code < 400 and not wrong_method:
            return response
        issues = []
        origin = request_headers["origin"]
        if not self.is_allowed_origin(origin=origin):
            allowed = ", ".join(self.allow_origins) or "none"
            issues.append(("Origin", f"origin {origin!r} is not allowed (allowed: {allowed})"))
        if method not in self.allow_methods:
            issues.append(("Access-Control-Request-Method", f"method {method!r} is not allowed"))
        elif wrong_method:
            declared = ", ".join(methods or ()) or "none: no operation has this path"
            issues.append(
                (
                    "Access-Control-Request-Method",
                    f"method {method!r} is not declared for this path (declared: {declared})",
                )
            )
        requested = request_headers.get("access-control-request-headers")
        if requested is not None and not self.allow_all_headers:
            refused = [h.strip() for h in requested.lower().split(",")]
            refused = [h for h in refused if h not in self.allow_headers]
            if refused:
                names = ", ".join(refused)
                issues.append(("Access-Control-Request-Headers", f"headers not allowed: {names}"))
        private = "access-control-request-private-network"
        if private in request_headers and not self.allow_private_network:
            issues.append(("Access-Control-Request-Private-Network", "private network is refused"))
        message = "CORS preflight refused: " + "; ".join(m for _, m in issues) + "."
        kept = {
            k: v
            for k, v in response.headers.items()
            if k.lower().startswith("access-") and k.lower() != "access-control-allow-methods"
        }
        return envelope_response(
            403,
            message,
            issues=[{"in": "header", "name": n, "message": m} for n, m in issues],
            headers={**kept, "Vary": "Origin"},
        )


class MockRequest:
    """Preferences in, `--delay` applied, one log line out: method, path, status, example.

    Outermost, so that CORS preflights are logged too; they are not delayed, or every
    cross-origin call would wait twice.
    """

    def __init__(self, app: ASGIApp, delay_ms: int = 0) -> None:
        self.app = app
        self.delay_ms = delay_ms

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = ConnexionRequest(scope)
        prefs = parse_prefer(request.headers.getlist("prefer"))
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        kept = []
        for name, value in query:
            if name in PRISM_PARAMS:
                prefs.set(PRISM_PARAMS[name], value, ("query", name))
            else:
                kept.append((name, value))
        if len(kept) != len(query):
            scope = {**scope, "query_string": urlencode(kept).encode("latin-1")}
        info = _info(scope)
        info["prefs"] = prefs
        preflight = is_preflight(scope)
        if preflight:
            info["source"] = "CORS preflight"
        status = 500
        started = time.monotonic()

        async def send_logged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        if self.delay_ms and not preflight:
            await asyncio.sleep(self.delay_ms / 1000)
        try:
            await self.app(scope, receive, send_logged)
        finally:
            source = info.get("source") or ("error envelope" if status >= 400 else "-")
            logger.info(
                "%s %s -> %s %s (%.0f ms)",
                scope["method"],
                scope["path"],
                status,
                source,
                (time.monotonic() - started) * 1000,
            )


class StringPathRouting(ExactPathRouting):
    """Integer and number path parameters routed as plain segments, validated like the others.

    Connexion routes them with Starlette's int and float convertors, so `/pets/abc` for an
    integer `petId` was a 404 "No route matches"; as a plain segment it reaches the parameter
    validator, whose 400 says what is wrong. Concrete paths are then tried before templated
    ones (OpenAPI's rule), as the convertors ensured for `/pets/mine` beside `/pets/{petId}`.
    """

    def adjust_routers(self, top: Router, apis: list[Router]) -> None:
        super().adjust_routers(top, apis)
        for router in apis:
            for route in router.routes:
                if isinstance(route, Route) and TYPED_SEGMENT.search(route.path):
                    route.path = TYPED_SEGMENT.sub(r"{\1}", route.path)
                    route.path_regex, route.path_format, route.param_convertors = compile_path(
                        route.path
                    )
            router.routes.sort(key=lambda route: getattr(route, "path", "").count("{"))


def declared_headers(spec: OpenAPI31Specification) -> list[str]:
    """Every response header the spec declares, so cross-origin pages may read them."""
    names = {
        name
        for _path, _method, operation in spec.operations()
        for response in (operation.get("responses") or {}).values()
        for name in (response.get("headers") or {})
    }
    return sorted(names)


def create_mock_app(options: MockOptions) -> connexion.AsyncApp:
    """The mock server for `options.spec_path`: no database, no handlers, the same assembly."""
    spec = OpenAPI31Specification.from_path(options.spec_path)
    generator = Generator(spec.schemas)
    operations = {
        operation_key(definition.get("operationId"), method, path): MockOperation(
            path, method, definition, generator, HOOKS.get(definition.get("operationId") or "")
        )
        for path, method, definition in spec.operations()
    }
    for operation in operations.values():
        for (key, media_type, source), problem in operation.invalid_examples.items():
            logger.warning(
                "spec example does not match its schema: %s %s %s %s: %s",
                operation.name,
                key,
                media_type,
                source,
                problem,
            )
    keys = read_keys(options.keys_file) if options.keys_file else None
    # At BEFORE_EXCEPTION, the first is outermost: every call is logged, preflights included;
    # CORS headers go on every answer, the error envelope included, and preflights are
    # answered before anything else. MockResponder sits in Connexion's handler slot.
    before = MiddlewarePosition.BEFORE_EXCEPTION
    return assemble(
        spec,
        options.spec_path,
        app_class=connexion.AsyncApp,
        resolver=MockResolver(),
        security_map=mock_security_map(
            keys,
            shape=pattern_shape(options.token_pattern) if options.token_pattern else None,
            any_token=options.any_token,
        ),
        validate_responses=True,
        routing=StringPathRouting,
        middleware=[
            Middleware(MockRequest, before, {"delay_ms": options.delay_ms}),
            Middleware(
                MockCORS,
                before,
                {
                    "allow_origins": list(options.cors_origins),
                    "allow_methods": ["*"],
                    "allow_headers": ["*"],
                    "expose_headers": [*EXPOSED_HEADERS, *declared_headers(spec)],
                    "paths": path_methods(spec),
                },
            ),
            Middleware(
                MockResponder, MiddlewarePosition.BEFORE_CONTEXT, {"operations": operations}
            ),
        ],
        domain_errors={
            InvalidExample: invalid_example,
            RequestValidationProblem: malformed_path(operations),
        },
        max_body=None,  # any document's bodies: the validators bound what they accept
        strict_query=True,  # a frontend's typo in a parameter name should show up early
    )


def malformed_path(operations: Mapping[str, MockOperation]) -> errors.Handler:
    """A path parameter the spec refuses (a malformed id) is the operation's documented 404
    when it documents a 404 and no 400, as the server does; else the 400."""
    not_found = errors.path_not_found("Not found.")

    def handle(request: ConnexionRequest, exc: Exception) -> Any:
        operation = operations.get(scope_operation_id(request.scope) or "")
        documented = set((operation.definition.get("responses") or {}) if operation else ())
        if "404" in documented and not documented & {"400", "4XX"}:
            return not_found(request, exc)
        return errors.problem(request, exc)

    return handle


def invalid_example(_request: ConnexionRequest, exc: Exception) -> Any:
    """A 500 that says which example of the spec is wrong: the frontend dev must see it."""
    return errors.envelope(500, str(exc))


# What a spec being edited can raise while the app is built: answered by `SpecUnavailable`
# (api.openapi.spec.load_document reports YAML errors, with their line, as InvalidSpecification).
SPEC_PROBLEMS = (InvalidSpecification, OSError, UnicodeDecodeError)


def spec_problem(exc: BaseException, spec_path: str) -> str:
    """One readable line on why the spec (or the `--keys` file) could not be loaded."""
    if isinstance(exc, OSError):
        return f"{exc.filename or spec_path}: {exc.strerror or exc}"
    text = " ".join(str(exc).split())
    return text if spec_path in text else f"{spec_path}: {text}"


class SpecUnavailable:
    """Served by `--watch` while the spec cannot be loaded: every call gets the 503 envelope.

    uvicorn's reloader would otherwise lose its worker, and requests would hang until the
    spec is fixed.
    """

    def __init__(self, problem: str) -> None:
        self.message = f"The mock cannot serve its spec until it is fixed: {problem}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        elif scope["type"] == "http":
            await envelope_response(503, self.message)(scope, receive, send)


def unavailable_app(options: MockOptions, problem: str) -> ASGIApp:
    """`SpecUnavailable` with the mock's log line and CORS, so a page can read the 503 too."""
    cors = MockCORS(
        SpecUnavailable(problem),
        allow_origins=list(options.cors_origins),
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=list(EXPOSED_HEADERS),
    )
    return MockRequest(cors)


def configure_logging() -> logging.Logger:
    """`mock: …` lines on stderr, for `craftkit mock` and its `--watch` worker."""
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("mock: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    return logger


def app_from_env() -> ASGIApp:
    """uvicorn's factory for `craftkit mock --watch`, which rebuilds the app on every change.

    A spec edited into an invalid document is logged once, in one line, and every call is
    answered with a 503 until the next change reloads the worker.
    """
    configure_logging()
    options = MockOptions.from_env()
    try:
        return create_mock_app(options)
    except SPEC_PROBLEMS as exc:
        problem = spec_problem(exc, options.spec_path)
        logger.error("cannot load the spec, answering 503 until it is fixed: %s", problem)
    except Exception as exc:  # a bug of ours, most likely: keep the traceback, still answer
        problem = spec_problem(exc, options.spec_path)
        logger.exception("cannot build the mock, answering 503: %s", problem)
    return unavailable_app(options, problem)
