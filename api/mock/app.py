"""The mock app: built by the server's `assemble()`, answered from the spec by middleware."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pathlib
import re
import shlex
import shutil
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

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
from api.mock import spec_cache
from api.mock.credentials import mock_security_map, pattern_shape, read_keys
from api.mock.documented_errors import documented_error, response_for
from api.mock.generate import Generator
from api.mock.hooks import HOOKS
from api.mock.paths import BasePath, PathTable
from api.mock.prefer import PRISM_PARAMS, Preferences, parse_prefer
from api.mock.replies import InvalidExample, MockOperation, operation_key
from api.openapi.connexion_shim import route_methods, scope_operation_id
from api.openapi.servers import base_path, normalise
from api.openapi.spec import OpenAPI31Specification, load_document, parse_document
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
    base_path: str | None = None  # None: the first `servers` URL's path; "/": the root
    last_good: str | None = None  # `--watch`: a copy of the last spec that loaded

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
            reply.encoded(),
            status_code=reply.status,
            headers=headers,
            media_type=reply.content_type,
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


class MockCORS(CORSMiddleware):
    """Starlette's CORS, saying in a preflight only what the path declares, as Prism does:
    its methods (with HEAD and OPTIONS) and the request headers its operations use (their
    header parameters and security schemes, besides Accept, Content-Type and Prefer).

    A refused preflight is answered with the envelope, saying what failed (Starlette answers a
    plain-text `400 Disallowed CORS origin`). `paths` is the spec's `PathTable` (paths under
    the base path and, where served, at the root); without it, the methods and headers given
    are allowed for every path.
    """

    def __init__(self, app: ASGIApp, paths: PathTable | None = None, **options: Any) -> None:
        super().__init__(app, **options)
        self.paths = paths
        if paths is not None:  # QUERY, COPY…: methods Starlette's "*" does not list
            extra = {m for entry in paths.entries for m in entry.preflight_methods}
            self.allow_methods = [*self.allow_methods, *sorted(extra - set(self.allow_methods))]

    def methods_at(self, path: str) -> tuple[str, ...] | None:
        if self.paths is None:
            return None
        entry = self.paths.entry(path)
        return entry.preflight_methods if entry is not None else ()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_preflight(scope):
            methods = self.methods_at(scope["path"])
            headers = self.paths.allowed_headers(scope["path"]) if self.paths else None
            response = self.preflight_response(Headers(scope=scope), methods, headers)
            await response(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def preflight_response(
        self,
        request_headers: Headers,
        methods: tuple[str, ...] | None = None,
        headers: tuple[str, ...] | None = None,
    ) -> Response:
        response = super().preflight_response(request_headers)
        method = request_headers["access-control-request-method"]
        wrong_method = methods is not None and method not in methods
        requested = request_headers.get("access-control-request-headers")
        asked = [h.strip().lower() for h in (requested or "").split(",") if h.strip()]
        wrong_headers = [] if headers is None else [h for h in asked if h not in headers]
        if response.status_code < 400:
            if methods is not None:
                response.headers["access-control-allow-methods"] = ", ".join(methods)
            if headers is not None:
                response.headers["access-control-allow-headers"] = ", ".join(headers)
        if response.status_code < 400 and not wrong_method and not wrong_headers:
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
        if requested is not None and not self.allow_all_headers:
            refused = [h.strip() for h in requested.lower().split(",")]
            wrong_headers += [h for h in refused if h not in self.allow_headers]
        if wrong_headers:
            names = ", ".join(dict.fromkeys(wrong_headers))
            allowed = f" (allowed: {', '.join(headers)})" if headers is not None else ""
            issues.append(
                ("Access-Control-Request-Headers", f"headers not allowed: {names}{allowed}")
            )
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


class MockSpecification(OpenAPI31Specification):
    """The spec, routed at the root: `BasePath` strips the base path before routing, so that
    the same operations answer under it and at the root (Connexion mounts them under it)."""

    @property
    def base_path(self) -> str:
        return ""

    @base_path.setter
    def base_path(self, _base_path: str) -> None:
        raise AttributeError("the mock's base path is set with MockOptions.base_path")

    @classmethod
    def from_path(cls, path: str | pathlib.Path) -> OpenAPI31Specification:
        """The spec at `path`, parsed and validated, or as it was the last time these same
        bytes were (api/mock/spec_cache.py)."""
        data = pathlib.Path(path).read_bytes()
        base_uri = f"{pathlib.Path(path).resolve().parent}/"
        cached = spec_cache.load(data)
        if cached is not None:
            return ValidatedBefore(cached, base_uri=base_uri)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidSpecification(f"not UTF-8 text: {exc}") from None
        spec = cls(parse_document(text), base_uri=base_uri)
        spec_cache.store(data, spec.raw)
        return spec


class ValidatedBefore(MockSpecification):
    """A document from the spec cache: these bytes passed `check_document` before."""

    @classmethod
    def check_document(cls, spec: dict[str, Any]) -> None:
        return None


def served_base_path(spec: OpenAPI31Specification, options: MockOptions) -> str:
    """`--base-path` (`/` for the root), else the path of the spec's first `servers` URL."""
    if options.base_path is not None:
        return normalise(options.base_path)
    return base_path(spec.raw)


def create_mock_app(options: MockOptions, document: str | None = None) -> connexion.AsyncApp:
    """The mock server for `options.spec_path`: no database, no handlers, the same assembly.

    `document`: another file holding the spec's text (`--watch`'s last good copy), read with
    references resolved next to `options.spec_path` and served as /openapi.yaml.
    """
    if document is None:
        spec = MockSpecification.from_path(options.spec_path)
    else:
        folder = pathlib.Path(options.spec_path).resolve().parent
        spec = MockSpecification(load_document(document), base_uri=f"{folder}/")
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
    for problem in serve_32_operations(spec):
        logger.warning("%s", problem)
    table = PathTable(spec.spec, spec.operations(), served_base_path(spec, options))
    keys = read_keys(options.keys_file) if options.keys_file else None
    # At BEFORE_EXCEPTION, the first is outermost: every call is logged, preflights included;
    # CORS headers go on every answer, the error envelope included, and preflights are
    # answered before anything else; then the base path is stripped, and errors are put in
    # the spec's own shape. MockResponder sits in Connexion's handler slot.
    before = MiddlewarePosition.BEFORE_EXCEPTION
    cors_options = {
        "allow_origins": list(options.cors_origins),
        "allow_methods": ["*"],
        "allow_headers": ["*"],
        "expose_headers": [*EXPOSED_HEADERS, *declared_headers(spec)],
    }
    app = assemble(
        spec,
        document or options.spec_path,
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
            Middleware(MockCORS, before, {**cors_options, "paths": table}),
            Middleware(BasePath, before, {"table": table, "not_found": outside_base_path}),
            Middleware(SpecErrors, before, {"table": table, "spec": spec}),
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
    app.mock_table = table  # for the start-up line (`example_call`)
    return app


def sample_value(param: Mapping[str, Any]) -> str:
    """A plausible path parameter value for the start-up curl line."""
    found = param.get("schema")
    schema: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    for value in (param.get("example"), schema.get("example"), schema.get("default")):
        if value is not None:
            return quote(str(value), safe="")
    if schema.get("enum"):
        return quote(str(schema["enum"][0]), safe="")
    if schema.get("format") == "uuid":
        return "5f0c6a52-4d0e-4b8a-9a57-1d3c2e7b9f10"
    return "1"


def example_call(app: Any, origin: str) -> tuple[str, str | None]:
    """(base path, one curl command line) for the start-up line of `craftkit mock`.

    A GET without path parameters if there is one, with the credentials its security asks
    for, of the shape the scheme describes.
    """
    table: PathTable | None = getattr(app, "mock_table", None)
    if table is None or not table.entries:
        return (table.base if table else ""), None
    gets = [e for e in table.entries if "GET" in e.operations]
    entry = next((e for e in gets if "{" not in e.template), gets[0] if gets else table.entries[0])
    method = "GET" if "GET" in entry.operations else next(iter(entry.operations))
    operation = entry.operations[method]
    path = entry.template
    for param in [*entry.parameters, *(operation.get("parameters") or [])]:
        if isinstance(param, Mapping) and param.get("in") == "path":
            path = path.replace("{" + str(param.get("name")) + "}", sample_value(param))
    path = re.sub(r"\{[^}]+\}", "1", path)
    parts = ["curl", "-i"] + ([] if method == "GET" else ["-X", method])
    options, query = table.credentials(operation)
    parts += options
    parts.append(shlex.quote(f"{origin}{table.base}{path}{query}"))
    return table.base, " ".join(parts)


async def outside_base_path(scope: Scope, receive: Receive, send: Send) -> None:
    """A path outside the base path, where the root is not served (see api/mock/paths.py)."""
    await envelope_response(404, f"No route matches {scope['path']}.")(scope, receive, send)


def serve_32_operations(spec: OpenAPI31Specification) -> list[str]:
    """Route a 3.2 document's `query` operations and `additionalOperations`; return one line
    per feature that cannot be served, naming it.

    Connexion knows neither: `query` becomes a method it routes (`route_methods`), and each
    additional operation is also set on its resolved path item under its lower-case method
    (the document served at /openapi.json is the raw one, unchanged). uvicorn's HTTP parser
    (httptools) refuses methods it does not know, so those operations are left out and named.
    """
    if not spec.is_32:
        return []
    problems = []
    methods = {"query"}
    for path, item in (spec.spec.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        for method, operation in (item.get("additionalOperations") or {}).items():
            name = str(method)
            if not parseable_method(name):
                problems.append(
                    f"OpenAPI 3.2 additionalOperations {name} {path} is not served: the HTTP "
                    f"server's parser refuses the method {name!r}"
                )
                continue
            if name.lower() in item:
                problems.append(
                    f"OpenAPI 3.2 additionalOperations {name} {path} is not served: "
                    f"it repeats the path's {name.lower()!r} operation"
                )
                continue
            item[name.lower()] = operation
            methods.add(name.lower())
    route_methods(methods)
    if "$self" in spec.raw:
        problems.append(
            f"OpenAPI 3.2 $self ({spec.raw['$self']}) is not used: references are resolved "
            "relative to the spec file"
        )
    return problems


def parseable_method(method: str) -> bool:
    """Whether uvicorn's httptools parser takes requests with this method."""
    try:
        import httptools
    except ImportError:  # pragma: no cover - h11 takes any token
        return re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", method) is not None

    parser = httptools.HttpRequestParser(object())
    try:
        parser.feed_data(method.encode("ascii") + b" / HTTP/1.1\r\nHost: x\r\n\r\n")
    except (httptools.HttpParserError, UnicodeEncodeError):
        return False
    return True


class SpecErrors:
    """The mock's 4xx answers in the shape the operation documents for them (issue 17).

    Validation, security, routing and preference errors come out of Connexion's exception
    middleware as the envelope; where the matched operation documents that status (exactly,
    as `4XX`, or as `default`) with content, the answer becomes that documented response
    (api/mock/documented_errors.py), the message in its text field. The envelope stays where
    nothing is documented, or where the documented JSON schema takes the envelope itself (this
    project's contract). A 405's `Allow` lists the methods the path declares. Answers of
    `MockResponder` (a `Prefer: code=404` example) are the spec's own and pass untouched.
    """

    def __init__(self, app: ASGIApp, table: PathTable, spec: OpenAPI31Specification) -> None:
        self.app = app
        self.table = table
        self.spec = spec

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        info = _info(scope)
        held: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def shaped(message: Message) -> None:
            if message["type"] == "http.response.start":
                if 400 <= message["status"] < 500 and not info.get("source"):
                    held["start"] = message
                    return
            elif "start" in held and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    await self.answer(scope, held["start"], b"".join(chunks), send)
                return
            await send(message)

        await self.app(scope, receive, shaped)

    async def answer(self, scope: Scope, start: Message, body: bytes, send: Send) -> None:
        status = int(start["status"])
        headers = Headers(raw=start["headers"])
        entry = self.table.match(scope["path"])
        method = "GET" if scope["method"] == "HEAD" else scope["method"]
        message, issues = envelope_parts(body)
        kept = {k: v for k, v in headers.items() if k.lower() in errors.KEPT_HEADERS}
        rewritten = entry is not None and status == 405
        if entry is not None and status == 405:
            allowed = ", ".join(entry.declared)
            kept["allow"] = allowed
            message = f"Method {scope['method']} is not allowed here; allowed: {allowed}."
            body = errors.envelope(405, message).body
        asked = None
        if entry is not None and status == 401 and message == errors.MESSAGES[401]:
            # Connexion found no usable credentials: say which, not "Bearer" for an API key.
            asked = self.table.credentials_asked(entry.operations.get(method) or {})
        if asked is not None:
            message, kept["www-authenticate"] = asked
            body = errors.envelope(401, message, headers={"WWW-Authenticate": asked[1]}).body
            rewritten = True
        candidates = [entry.operations[method]] if entry and method in entry.operations else []
        if entry is not None and status == 405:
            candidates = list(entry.operations.values())
        shaped = None
        for operation in candidates:
            if envelope_fits(self.spec, operation, status, body):
                break
            shaped = documented_error(self.spec, operation, status, message or "", issues)
            if shaped is not None:
                break
        if shaped is None and not rewritten:
            await send(start)  # the envelope as it came, every header kept
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        if shaped is None:
            response = Response(body, status_code=status, headers=kept, media_type=None)
            response.headers["content-type"] = headers.get("content-type", "application/json")
        else:
            _status, media_type, shaped_body, documented = shaped
            _info(scope)["source"] = "documented error"
            response = Response(
                shaped_body,
                status_code=status,
                headers={**documented, **kept},
                media_type=media_type,
            )
        await response(scope, _no_receive, send)


async def _no_receive() -> Message:  # pragma: no cover - a Response never reads
    return {"type": "http.disconnect"}


def envelope_parts(body: bytes) -> tuple[str | None, list[dict[str, Any]] | None]:
    """(message, issues) of an error envelope, or (None, None) if `body` is not one."""
    try:
        error = json.loads(body)["error"]
        return str(error["message"]), error.get("issues")
    except (ValueError, KeyError, TypeError):
        return None, None


def envelope_fits(
    spec: OpenAPI31Specification, operation: Mapping[str, Any], status: int, body: bytes
) -> bool:
    """Whether the operation documents `status` as application/json with a schema that takes
    the envelope as it is (this project's own contract does): then it is sent unchanged."""
    response = response_for(operation.get("responses") or {}, status)
    if not isinstance(response, Mapping):
        return False
    media = (response.get("content") or {}).get("application/json")
    if not isinstance(media, Mapping) or not isinstance(media.get("schema"), Mapping):
        return False
    try:
        value = json.loads(body)
    except ValueError:
        return False
    return next(iter(spec.schemas.get(media["schema"]).iter_errors(value)), None) is None


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

    A spec edited into one that does not load is logged once, in one line, and the last one
    that loaded (`options.last_good`, copied on every good load) keeps being served until the
    next change; without one, every call is answered with a 503 naming the problem.
    """
    configure_logging()
    options = MockOptions.from_env()
    try:
        app = create_mock_app(options)
        if options.last_good:
            shutil.copyfile(options.spec_path, options.last_good)
        return app
    except SPEC_PROBLEMS as exc:
        problem = spec_problem(exc, options.spec_path)
    except Exception as exc:  # a bug of ours, most likely: keep the traceback, still answer
        problem = spec_problem(exc, options.spec_path)
        logger.exception("cannot build the mock, answering 503: %s", problem)
        return unavailable_app(options, problem)
    if options.last_good and pathlib.Path(options.last_good).is_file():
        try:
            app = create_mock_app(options, document=options.last_good)
        except Exception as exc:  # the copy's references may have changed under it
            logger.error("cannot load the last good spec either: %s", exc)
        else:
            logger.error("cannot load the spec, still serving the last good one: %s", problem)
            return app
    logger.error("cannot load the spec, answering 503 until it is fixed: %s", problem)
    return unavailable_app(options, problem)
