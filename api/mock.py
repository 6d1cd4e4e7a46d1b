"""Mock mode: every operation of a spec answered from its examples, with no database.

The app is assembled from the same pieces as the real server (`openapi31.add_api` with
`VALIDATOR_MAP`, strict parameter validation, response validation, the error envelope, HEAD as
GET), so requests are checked as the real server checks them and every mock body is validated
against the spec before it leaves. Only two things differ:

- `MockResolver` names every operation, with or without an operationId, and `MockResponder`
  answers routed requests itself, after security and validation, before Connexion would call a
  handler. Connexion's parameter decorator is never reached: its type coercion fails on 3.1 type
  lists (`type: [string, 'null']`), and its own `MockResolver` answers 500 for operations without
  an operationId.
- `MockRequest` reads the client's preferences (RFC 7240 `Prefer: code=…, example=…,
  dynamic=true, seed=…`, or Prism's `__code`/`__example`/`__dynamic`/`__seed` query parameters,
  removed before strict validation sees them), applies `--delay` and logs one line per call.

Dynamic bodies come from jsf (JSON Schema Faker), seeded so a `seed` reproduces a body; each is
validated with the spec's own 2020-12 (or 3.0) validator, and redrawn if jsf got it wrong.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pathlib
import random
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import connexion
from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionRequest
from connexion.middleware import MiddlewarePosition
from connexion.options import SwaggerUIOptions
from connexion.resolver import Resolution, Resolver
from connexion.security import ApiKeySecurityHandler, BasicSecurityHandler, OAuthSecurityHandler
from starlette.concurrency import run_in_threadpool
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import errors
from api.head import HeadAsGet
from api.openapi31 import OpenAPI31Specification, RequestValidationProblem, SchemaCache, add_api
from api.routing import middlewares
from api.security import ApiKeyBearerHandler, InvalidApiKey

logger = logging.getLogger("craftkit.mock")

OPTIONS_ENV = "CRAFTKIT_MOCK_OPTIONS"
PRISM_PARAMS = {"__code": "code", "__example": "example", "__dynamic": "dynamic", "__seed": "seed"}
EXTENSION = "craftkit_mock"  # scope["extensions"] key shared by MockRequest and MockResponder
MAX_DRAWS = 20
# Headers a page may read from a cross-origin response, besides those the spec declares.
EXPOSED_HEADERS = ("Preference-Applied", "WWW-Authenticate", "Allow", "Retry-After")


@dataclass(frozen=True)
class MockOptions:
    """What `craftkit mock` was asked for; travels as JSON in the environment to reloaders."""

    spec_path: str
    keys_file: str | None = None
    cors_origins: tuple[str, ...] = ("*",)
    delay_ms: int = 0

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MockOptions:
        raw = json.loads((os.environ if environ is None else environ)[OPTIONS_ENV])
        raw["cors_origins"] = tuple(raw.get("cors_origins") or ("*",))
        return cls(**raw)


# --- preferences ------------------------------------------------------------------------------


@dataclass
class Preferences:
    """The client's choice of response; `problems` are reported as a 400 once routed."""

    code: int | None = None
    example: str | None = None
    dynamic: bool = False
    seed: int | None = None
    problems: list[str] = field(default_factory=list)

    def set(self, name: str, value: str) -> None:
        name = name.strip().lower()
        value = value.strip().strip('"')
        if name == "code":
            if value.isdigit() and 100 <= int(value) <= 599:
                self.code = int(value)
            else:
                self.problems.append(f"code={value!r}: expected an HTTP status such as 404")
        elif name == "example":
            self.example = value
        elif name == "dynamic":
            if value.lower() not in ("true", "false"):
                self.problems.append(f"dynamic={value!r}: expected true or false")
            self.dynamic = value.lower() == "true"
        elif name == "seed":
            if re.fullmatch(r"-?\d+", value):
                self.seed = int(value)
            else:
                self.problems.append(f"seed={value!r}: expected an integer")
        # Other preferences (return=, respond-async, …) are not ours to refuse (RFC 7240 §2).


def parse_prefer(values: list[str], prefs: Preferences | None = None) -> Preferences:
    """Read RFC 7240 `Prefer` header values: `token[=value]` items separated by commas."""
    prefs = prefs or Preferences()
    for value in values:
        for item in value.split(","):
            name, _, raw = item.split(";", 1)[0].partition("=")
            if name.strip():
                prefs.set(name, raw)
    return prefs


# --- choosing and building the response -------------------------------------------------------


@dataclass
class MockReply:
    status: int
    media_type: str | None
    body: Any
    headers: dict[str, str]
    source: str  # which example, for the log line and Preference-Applied
    applied: list[str] = field(default_factory=list)

    def encoded(self) -> bytes:
        if self.media_type is None:
            return b""
        if "json" in self.media_type:
            return json.dumps(self.body).encode()
        return str(self.body).encode()


class PreferenceProblem(RequestValidationProblem):
    """A preference the spec cannot satisfy; the message says what it can."""

    def __init__(self, message: str) -> None:
        super().__init__(message, [{"in": "header", "name": "Prefer", "message": message}])


def documented_status(responses: Mapping[str, Any], wanted: int | None) -> tuple[int, str]:
    """(status to send, key of `responses` that documents it)."""
    if wanted is None:
        for key in responses:
            if re.fullmatch(r"2(\d\d|XX)", str(key)):
                return (200 if key == "2XX" else int(key)), str(key)
        first = str(next(iter(responses)))
        return (int(first) if first.isdigit() else 200), first
    for key in (str(wanted), f"{wanted // 100}XX", "default"):
        if key in responses:
            return wanted, key
    raise PreferenceProblem(
        f"No {wanted} response is documented for this operation; documented: "
        + ", ".join(str(k) for k in responses)
        + "."
    )


def pick_media_type(content: Mapping[str, Any]) -> str | None:
    if not content:
        return None
    for media_type in content:
        if media_type == "application/json" or media_type.endswith("+json"):
            return media_type
    return str(next(iter(content)))


class Generator:
    """Schema-valid data from jsf, reproducible per seed, checked by the spec's validator.

    jsf draws from the global `random` module, Faker's shared generator and rstr's: they are
    seeded under a lock, and the global state is restored afterwards.
    """

    _lock = threading.Lock()

    def __init__(self, *, oas30: bool) -> None:
        self.oas30 = oas30

    def generate(self, schema: Mapping[str, Any], seed: int) -> Any:
        from jsf import JSF  # imported on first use: it pulls in Faker

        validator = SchemaCache.get(schema, oas30=self.oas30)
        for draw in range(MAX_DRAWS):
            with self._lock:
                value = self._draw(JSF, dict(schema), seed * MAX_DRAWS + draw)
            if value is _FAILED:
                continue
            error = next(iter(validator.iter_errors(value)), None)
            if error is None:
                return value
            logger.debug("draw %d of seed %d is not valid, drawing again: %s", draw, seed, error)
        raise ProblemException(
            status=500,
            title="Internal Server Error",
            detail=f"Could not generate data valid against the schema in {MAX_DRAWS} draws.",
        )

    @staticmethod
    def _draw(jsf_class: Any, schema: dict[str, Any], seed: int) -> Any:
        import faker
        import rstr

        state = random.getstate()
        try:
            random.seed(seed)
            faker.Faker.seed(seed)
            rstr_random = getattr(rstr._default_instance, "_random", None)
            if rstr_random is not None:
                rstr_random.seed(seed)
            try:
                return jsf_class(for_jsf(schema, random.Random(seed))).generate()
            except Exception as exc:  # jsf refuses some 2020-12 keywords; try another draw
                logger.debug("jsf could not generate (seed %d): %s", seed, exc)
                return _FAILED
        finally:
            random.setstate(state)


_FAILED = object()
MAP_KEYS = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta")


SUBSCHEMA = ("items", "additionalProperties", "not", "contains", "if", "then", "else")
SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")


def for_jsf(schema: Any, rng: random.Random, depth: int = 0) -> Any:
    """A copy of `schema` in which maps name a few keys, since jsf leaves them empty.

    jsf generates nothing for `additionalProperties` (a map such as `counts` would always be
    `{}`, and its `patternProperties` support fails), so some of the keys it allows are named
    as optional properties. Only subschema keywords are followed, to a bounded depth: resolved
    documents can be cyclic. The result is still checked against the original schema.
    """
    if not isinstance(schema, dict) or depth > 16:
        return schema
    copy = dict(schema)
    for key in SUBSCHEMA:
        if isinstance(copy.get(key), dict):
            copy[key] = for_jsf(copy[key], rng, depth + 1)
    for key in SUBSCHEMA_LISTS:
        if isinstance(copy.get(key), list):
            copy[key] = [for_jsf(item, rng, depth + 1) for item in copy[key]]
    for key in SUBSCHEMA_MAPS:
        if isinstance(copy.get(key), dict):
            copy[key] = {k: for_jsf(v, rng, depth + 1) for k, v in copy[key].items()}
    extra = copy.get("additionalProperties")
    if isinstance(extra, dict) and not copy.get("properties") and not copy.get("patternProperties"):
        copy["properties"] = {name: extra for name in rng.sample(MAP_KEYS, rng.randint(1, 4))}
    return copy


class MockOperation:
    """One operation of the spec and how to answer it."""

    def __init__(
        self, path: str, method: str, definition: dict[str, Any], generator: Generator
    ) -> None:
        self.path = path
        self.method = method
        self.definition = definition
        self.generator = generator

    def reply(self, prefs: Preferences) -> MockReply:
        if prefs.problems:
            raise PreferenceProblem("Invalid Prefer: " + "; ".join(prefs.problems) + ".")
        responses = self.definition.get("responses") or {"200": {"description": "OK"}}
        status, key = documented_status(responses, prefs.code)
        response = responses[key]
        applied = [f"code={status}"] if prefs.code is not None else []
        content = response.get("content") or {}
        media_type = pick_media_type(content)
        body: Any = None
        source = "no body"
        if media_type is not None:
            body, source, more = self._body(content[media_type], prefs)
            applied += more
        headers = self._headers(response.get("headers") or {}, prefs.seed or 0)
        return MockReply(status, media_type, body, headers, source, applied)

    def _body(self, media: Mapping[str, Any], prefs: Preferences) -> tuple[Any, str, list[str]]:
        named = {k: v for k, v in (media.get("examples") or {}).items() if "value" in v}
        schema = media.get("schema")
        if prefs.example is not None:
            if prefs.example not in named:
                raise PreferenceProblem(
                    f"No example named {prefs.example!r} for this response; named examples: "
                    + (", ".join(named) or "none")
                    + "."
                )
            return (
                named[prefs.example]["value"],
                f"example {prefs.example!r}",
                [f"example={prefs.example}"],
            )
        if not prefs.dynamic:
            if "example" in media:
                return media["example"], "example", []
            if named:
                name = next(iter(named))
                return named[name]["value"], f"example {name!r}", []
            if isinstance(schema, dict):
                if schema.get("examples"):
                    return schema["examples"][0], "schema example", []
                if "example" in schema:
                    return schema["example"], "schema example", []
        if not isinstance(schema, dict):
            return None, "no schema", []
        seed = prefs.seed
        if seed is None:
            # Asked-for dynamic data varies per call; a stand-in for a missing example is stable.
            seed = random.randrange(1_000_000) if prefs.dynamic else 0
        applied = ["dynamic=true", f"seed={seed}"] if prefs.dynamic else []
        return self.generator.generate(schema, seed), f"generated (seed {seed})", applied

    def _headers(self, declared: Mapping[str, Any], seed: int) -> dict[str, str]:
        """Headers from the spec's examples; a required one without any is generated."""
        headers: dict[str, str] = {}
        for name, header in declared.items():
            if name.lower() == "content-type":
                continue
            schema = header.get("schema") if isinstance(header.get("schema"), dict) else {}
            candidates = [header.get("example"), schema.get("example")]
            candidates += [e.get("value") for e in (header.get("examples") or {}).values()]
            candidates += list(schema.get("examples") or [])
            value = next((c for c in candidates if c is not None), None)
            if value is None and header.get("required") and schema:
                value = self.generator.generate(schema, seed)
            if value is not None:
                headers[name] = _header_text(value)
        return headers


def _header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


# --- Connexion wiring -------------------------------------------------------------------------


def operation_key(operation_id: str | None, method: str, path: str) -> str:
    return operation_id or f"{method.upper()} {path}"


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
        routing = scope.get("extensions", {}).get("connexion_routing", {})
        operation = self.operations.get(routing.get("operation_id") or "")
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


class MockRequest:
    """Preferences in, `--delay` applied, one log line out: method, path, status, example."""

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
                prefs.set(PRISM_PARAMS[name], value)
            else:
                kept.append((name, value))
        if len(kept) != len(query):
            scope = {**scope, "query_string": urlencode(kept).encode("latin-1")}
        info = _info(scope)
        info["prefs"] = prefs
        status = 500
        started = time.monotonic()

        async def send_logged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        if self.delay_ms:
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


def read_keys(path: str | pathlib.Path) -> frozenset[str]:
    """Valid bearer tokens for `--keys`: one per line; blank lines and `#` comments ignored."""
    lines = pathlib.Path(path).read_text(encoding="utf-8").splitlines()
    return frozenset(s for line in lines if (s := line.strip()) and not s.startswith("#"))


def mock_security_map(valid_keys: frozenset[str] | None) -> dict[str, type]:
    """Credentials checked without a database: any well-formed one, or only those of `--keys`.

    Bearer is our contract's scheme; API keys, HTTP basic and OAuth2/OpenID Connect bearer
    tokens are accepted the same way, so that any spec's secured operations can be mocked
    (Connexion would refuse them all for want of an `x-…InfoFunc`).
    """

    def check(credential: str) -> None:
        if not credential or any(c.isspace() for c in credential):
            raise InvalidApiKey("Malformed credentials.")
        if valid_keys is not None and credential not in valid_keys:
            raise InvalidApiKey("Invalid API key (not in the mock's --keys file).")

    async def token_info(token: str) -> dict[str, Any]:
        check(token)
        return {"sub": "mock"}

    async def api_key_info(api_key: str, required_scopes: Any = None) -> dict[str, Any]:
        check(api_key)
        return {"sub": "mock"}

    async def basic_info(username: str, password: str, required_scopes: Any = None) -> Any:
        check(password)
        return {"sub": username}

    async def oauth_info(token: str, required_scopes: Any = None) -> dict[str, Any]:
        check(token)
        return {"sub": "mock", "scope": list(required_scopes or [])}  # every scope granted

    class MockBearerHandler(ApiKeyBearerHandler):
        def _resolve_func(self, security_scheme: dict[str, Any]) -> Any:
            return token_info

    class MockApiKeyHandler(ApiKeySecurityHandler):
        def _resolve_func(self, security_scheme: dict[str, Any]) -> Any:
            return api_key_info

    class MockBasicHandler(BasicSecurityHandler):
        def _resolve_func(self, security_scheme: dict[str, Any]) -> Any:
            return basic_info

    class MockOAuthHandler(OAuthSecurityHandler):
        def get_tokeninfo_func(self, security_definition: dict[str, Any]) -> Any:
            return oauth_info

    return {
        "bearer": MockBearerHandler,
        "apiKey": MockApiKeyHandler,
        "basic": MockBasicHandler,
        "oauth2": MockOAuthHandler,
        "openIdConnect": MockOAuthHandler,
    }


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
    """The mock server for `options.spec_path`: no database, no handlers."""
    spec = OpenAPI31Specification.from_path(options.spec_path)
    generator = Generator(oas30=not spec.is_31)
    operations = {
        operation_key(definition.get("operationId"), method, path): MockOperation(
            path, method, definition, generator
        )
        for path, method, definition in spec.operations()
    }
    keys = read_keys(options.keys_file) if options.keys_file else None

    app = connexion.AsyncApp(
        __name__,
        swagger_ui_options=SwaggerUIOptions(serve_spec=False, swagger_ui=False),
        middlewares=middlewares(),
    )
    add_api(
        app,
        spec,
        resolver=MockResolver(),
        strict_validation=True,
        validate_responses=True,
        security_map=mock_security_map(keys),
    )
    # Added in this order at BEFORE_EXCEPTION, the first is outermost: CORS headers go on every
    # answer, the error envelope included, and preflights are answered before anything else.
    app.add_middleware(
        CORSMiddleware,
        position=MiddlewarePosition.BEFORE_EXCEPTION,
        allow_origins=list(options.cors_origins),
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=[*EXPOSED_HEADERS, *declared_headers(spec)],
    )
    app.add_middleware(
        MockRequest, position=MiddlewarePosition.BEFORE_EXCEPTION, delay_ms=options.delay_ms
    )
    app.add_middleware(HeadAsGet, position=MiddlewarePosition.BEFORE_EXCEPTION)
    app.add_middleware(
        MockResponder, position=MiddlewarePosition.BEFORE_CONTEXT, operations=operations
    )
    _add_spec_routes(app, spec, pathlib.Path(options.spec_path))
    errors.register(app)
    return app


def _add_spec_routes(
    app: connexion.AsyncApp, spec: OpenAPI31Specification, spec_path: pathlib.Path
) -> None:
    """The document as written, at the real server's `/openapi.yaml` and `/openapi.json`."""
    raw_yaml = spec_path.read_bytes()
    as_json = json.dumps(spec.raw, default=str).encode()

    async def openapi_yaml(_request: Any) -> Response:
        return Response(raw_yaml, media_type="application/yaml")

    async def openapi_json(_request: Any) -> Response:
        return Response(as_json, media_type="application/json")

    app.add_url_rule("/openapi.yaml", "openapi_yaml", openapi_yaml, methods=["GET"])
    app.add_url_rule("/openapi.json", "openapi_json", openapi_json, methods=["GET"])


def app_from_env() -> connexion.AsyncApp:
    """uvicorn's factory for `craftkit mock` (a factory so that `--watch` can rebuild it)."""
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("mock: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return create_mock_app(MockOptions.from_env())
