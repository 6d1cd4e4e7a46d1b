"""Every use of a Connexion internal, in one module; everything else calls what this exposes.

Connexion 3.3's public API (the app classes and their options, `add_middleware`,
`MiddlewarePosition`, the problem exceptions, `ConnexionRequest`/`ConnexionResponse`,
`Resolver`, the validator classes of `validator_map` and the security handler classes of
`security_map`) cannot load a 3.1 document, check bodies with 2020-12 semantics, take a token
check from code instead of an `x-bearerInfoFunc`, route without slash redirects, or keep an
AsyncApp operation's decorated view between requests. What it
takes is here, each use commented with why, behind small classes with public hooks
(`check_document`, `check`, `parse`, `token_info_for`, `bearer_token`, `adjust_routers`) and
functions. tests/test_connexion_shim.py checks each internal's shape and names the one that
moved; tests/test_import_rules.py keeps them out of every other module. pyproject.toml pins
`connexion>=3.3,<3.4`, the range these were tested on.

It imports nothing from api/: the modules built on it (openapi.spec, openapi.validation, security,
protocol.middleware, the mock) import it, never the other way round.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from functools import cached_property
from typing import Any

from connexion.apps.asynchronous import AsyncApi, AsyncOperation
from connexion.context import _context, _operation, _receive, _scope
from connexion.context import context as CURRENT_CONTEXT
from connexion.context import operation as CURRENT_OPERATION
from connexion.datastructures import MediaTypeDict
from connexion.decorators import StarletteDecorator
from connexion.decorators.parameter import (
    CONTEXT_NAME,
    AsyncParameterDecorator,
    _get_val_from_param,
    unwrap_decorators,
)
from connexion.exceptions import NonConformingResponseHeaders
from connexion.http_facts import METHODS as CONNEXION_METHODS
from connexion.lifecycle import ConnexionRequest
from connexion.middleware.abstract import ROUTING_CONTEXT, SpecMiddleware
from connexion.middleware.main import API, ConnexionMiddleware
from connexion.middleware.request_validation import RequestValidationOperation
from connexion.middleware.response_validation import ResponseValidationOperation
from connexion.middleware.routing import RoutingMiddleware
from connexion.middleware.security import SecurityOperation
from connexion.resolver import Resolver
from connexion.security import (
    NO_VALUE,
    BearerSecurityHandler,
    OAuthSecurityHandler,
    SecurityHandlerFactory,
)
from connexion.spec import OpenAPISpecification
from connexion.utils import inspect_function_arguments, is_nullable
from connexion.validators import (
    FormDataValidator,
    JSONRequestBodyValidator,
    JSONResponseBodyValidator,
    MultiPartFormDataValidator,
)
from starlette.datastructures import Headers
from starlette.routing import Mount, Router
from starlette.types import ASGIApp, Receive, Scope, Send

# The `scope["extensions"]` key where ConnexionRequest keeps the security handler's result.
SECURITY_CONTEXT = "connexion_context"

TokenInfo = Callable[[str], Awaitable[dict[str, Any]]]


# --- loading a document ---------------------------------------------------------------------


class Specification(OpenAPISpecification):
    """Connexion's OpenAPI 3 spec class (`raw`, `spec`, `get_path_params`), checked by
    `check_document` instead of Connexion's 3.0 meta-schema.

    `connexion.spec` is not a public module; routing, validation and security all read this
    class, so the 3.1 document must be one.
    """

    @classmethod
    def check_document(cls, document: dict[str, Any]) -> None:
        """Raise `InvalidSpecification` if `document` is not one this app can serve."""
        raise NotImplementedError

    @classmethod
    def _validate_spec(cls, spec: dict[str, Any]) -> None:
        # Connexion's constructor calls this to check against its 3.0-only meta-schema.
        cls.check_document(spec)


def route_methods(methods: Iterable[str]) -> None:
    """Let Connexion route path item keys named `methods` too (OpenAPI 3.2's `query`, and
    the methods of `additionalOperations` once set on the resolved path item).

    Connexion routes only the keys in `connexion.http_facts.METHODS`, a module-level set that
    each of its middlewares imported by name: it is extended in place, once per process;
    documents before 3.2 have no such keys, so nothing changes for them.
    """
    CONNEXION_METHODS.update(method.lower() for method in methods)


def register_api(app: Any, spec: Specification, **options: Any) -> None:
    """Register an already loaded `spec` on a Connexion app, as `app.add_api` would.

    `app.add_api` re-parses its argument with the 3.0-only `Specification.load`; this appends
    Connexion's per-API record (`connexion.middleware.main.API`, built from the app's options
    merged with ours through the private `_Options.replace`) to `middleware.apis`, as its
    `add_api` does, refusing a started app as it does (`middleware_stack` is set on start).
    """
    middleware = app.middleware
    if middleware.middleware_stack is not None:
        raise RuntimeError("Cannot add an API after the application has started")
    merged = middleware.options.replace(**options)
    middleware.apis.append(API(spec, base_path=None, name=None, **merged.__dict__))


def decorate_views_once(app: Any) -> None:
    """On an AsyncApp, build each operation's view once (`OnceDecoratedApi`); else nothing.

    The AsyncApp builds its routes with its private `_middleware_app.api_cls` when it starts.
    Call before the app starts.
    """
    inner: Any = getattr(app, "_middleware_app", None)
    if getattr(inner, "api_cls", None) is AsyncApi:
        inner.api_cls = OnceDecoratedApi


def specifications(app: Any) -> list[Any]:
    """The spec objects registered on `app` (`middleware.apis`, Connexion's own list)."""
    return [api.specification for api in app.middleware.apis]


# --- the AsyncApp's views, decorated once ---------------------------------------------------


class _PathOnlyParameters(AsyncParameterDecorator):
    """Connexion's parameter decorator, with a shorter way for operations taking only path
    parameters (no query parameter, no body).

    Its wrapper works out on every request the body's name (three regex substitutions), reads
    the form and files, merges query defaults into a deep copy and walks the body schema,
    for a GET whose handler takes `id` and `token_info`: about 35 µs of an engagement
    request. For such operations the arguments are the path parameters, cast as Connexion
    casts them (`_get_val_from_param`), under their sanitised names, and the context entries
    the handler names; any other operation, or a handler taking `**kwargs` or `context_`,
    goes through Connexion's own wrapper. tests/test_connexion_shim.py checks that both give
    the same arguments.
    """

    def __call__(self, function: Any) -> Any:
        stock = super().__call__(function)
        arguments, has_kwargs = inspect_function_arguments(unwrap_decorators(function))
        plan: list[Any] = []  # [path definitions by name] once known; [None]: Connexion's way

        async def wrapper(request: ConnexionRequest) -> Any:
            if not plan:
                plan.append(_path_only(CURRENT_OPERATION, arguments, has_kwargs))
            definitions = plan[0]
            if definitions is None:
                return await stock(request)
            sanitize = self.sanitize_fn
            kwargs = {
                sanitize(name): _get_val_from_param(value, definitions[name])
                if name in definitions
                else value
                for name, value in request.path_params.items()
            }
            for key, value in CURRENT_CONTEXT.items():
                if key in arguments:
                    kwargs[key] = value
            return await function(**kwargs)

        return functools.wraps(function)(wrapper)


def _path_only(operation: Any, arguments: list[str], has_kwargs: bool) -> dict[str, Any] | None:
    """The operation's path parameter definitions by name, if it takes nothing else."""
    if has_kwargs or CONTEXT_NAME in arguments or operation.request_body:
        return None
    parameters = list(operation.parameters)
    if any(p["in"] in ("query", "formData", "body") for p in parameters):
        return None
    return {p["name"]: p for p in parameters if p["in"] == "path"}


class _DecorateOnce(StarletteDecorator):
    """Connexion's Starlette decorator, keeping the decorated view it builds for a function.

    Its per-request wrapper calls `decorate(function)`, which wraps the view anew (three
    `functools.wraps`, `inspect.signature` of the unwrapped handler, a parameter decorator):
    about a tenth of a request's CPU under load (455 -> 410 µs a request measured with and
    without this), and the same on every request of an operation. The result holds no
    request state (the request is its argument), so one is kept and reused.
    """

    _decorated: tuple[Any, Any] | None = None

    @property
    def _parameter_decorator_cls(self) -> type:  # Connexion's hook for the parameter decorator
        return _PathOnlyParameters

    def decorate(self, function: Any) -> Any:
        kept = self._decorated
        if kept is None or kept[0] is not function:
            kept = self._decorated = (function, super().decorate(function))
        return kept[1]


class OnceDecoratedOperation(AsyncOperation):
    """Connexion's AsyncOperation with its `fn` (a new StarletteDecorator per request in 3.3)
    built once."""

    @cached_property
    def fn(self) -> Any:  # type: ignore[override]  # a property in Connexion
        return _DecorateOnce(pythonic_params=self.pythonic_params, jsonifier=self.jsonifier)(
            self._fn
        )


class OnceDecoratedApi(AsyncApi):
    """Connexion's AsyncApi making `OnceDecoratedOperation`s."""

    def make_operation(self, operation: Any) -> AsyncOperation:
        return OnceDecoratedOperation.from_operation(
            operation, pythonic_params=self.pythonic_params, jsonifier=self.jsonifier
        )


def produced_media_types(operation: Any) -> list[str]:
    """The media types an operation's responses declare, as Connexion's resolver sees it
    (its `produces`, which its response decorator picks a content type from)."""
    return list(operation.produces)


def registered_routes(app: Any) -> set[tuple[str, str]]:
    """(path, method) of every route the app's framework registers, FlaskApp or AsyncApp.

    For tests that prove no route exists outside the contract. AsyncApp keeps its Starlette
    router and its APIs in its private `_middleware_app`; its operations have no Starlette
    route at all (they are dispatched by operationId after Connexion's routing), so they are
    listed by the path and method the spec gives their operationId. Call after the app has
    started: Connexion adds API routes at start-up. Path parameters read `<name>` in both.
    """
    inner = getattr(app, "app", None)
    url_map = getattr(inner, "url_map", None)
    if url_map is not None:  # FlaskApp: Flask's own rules
        return {
            (rule.rule, method)
            for rule in url_map.iter_rules()
            for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
        }
    found: set[tuple[str, str]] = set()
    for apis in app._middleware_app.apis.values():
        for api in apis:
            for path, item in api.specification.raw["paths"].items():
                for method, operation in item.items():
                    if (
                        isinstance(operation, dict)
                        and operation.get("operationId") in api.operations
                    ):
                        found.add((re.sub(r"\{([^}]+)\}", r"<\1>", path), method.upper()))
    stack: list[Any] = list(app._middleware_app.router.routes)
    while stack:
        route = stack.pop()
        if isinstance(route, Mount):
            stack.extend(getattr(route.app, "routes", []))
            continue
        path = re.sub(r"\{([^}:]+)(:[^}]*)?\}", r"<\1>", route.path)
        found |= {(path, m) for m in (route.methods or {"GET"}) - {"HEAD", "OPTIONS"}}
    return found


def async_operations(app: Any) -> list[Any]:
    """The operation objects an AsyncApp routes (from its private `_middleware_app.apis`)."""
    return [
        operation
        for apis in app._middleware_app.apis.values()
        for api in apis
        for operation in api.operations.values()
    ]


# --- the middleware stack -------------------------------------------------------------------


def default_middlewares(routing: type) -> list[Any]:
    """Connexion's default middleware list, with `routing` in place of its routing middleware.

    A new list per app: Connexion's `add_middleware` inserts into the list it was given.
    `ConnexionMiddleware.default_middlewares` and `RoutingMiddleware` are not public.
    """
    return [
        routing if middleware is RoutingMiddleware else middleware
        for middleware in ConnexionMiddleware.default_middlewares
    ]


def middleware_list(app: Any) -> list[Any]:
    """The list `app` builds its middleware stack from (`middleware.middlewares`)."""
    return app.middleware.middlewares  # type: ignore[no-any-return]


def asgi_routes(app: Any) -> list[Any]:
    """An AsyncApp's own Starlette routes (`add_url_rule`), in its private `_middleware_app`."""
    return list(app._middleware_app.router.routes)


def routed_operation_ids(app: Any) -> set[str]:
    """The operationIds an AsyncApp routes, from its private `_middleware_app.apis`."""
    return {
        operation_id
        for apis in app._middleware_app.apis.values()
        for api in apis
        for operation_id in api.operations
    }


class Routing(RoutingMiddleware):
    """Connexion's routing middleware, its Starlette routers handed to `adjust_routers`.

    `RoutingMiddleware` and its `router` attribute are internal: the router is built in its
    constructor and gets one `Mount` per API in its `add_api`, which Connexion calls on every
    middleware of the stack as the app starts.
    """

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app)
        self.adjust_routers(self.router, [])

    def add_api(self, *args: Any, **kwargs: Any) -> None:
        super().add_api(*args, **kwargs)
        apis = [
            route.app
            for route in self.router.routes
            if isinstance(route, Mount) and isinstance(route.app, Router)
        ]
        self.adjust_routers(self.router, apis)

    def adjust_routers(self, top: Router, apis: list[Router]) -> None:
        """Change the outer router and each API's router (called again after each API)."""


# --- what Connexion records in the ASGI scope -----------------------------------------------
# The matched operation (`ROUTING_CONTEXT`) and the security handler's token info
# (`connexion_context`) live under `scope["extensions"]`; neither is a public API.


def scope_operation_id(scope: Scope) -> str | None:
    """The operationId Connexion routed the request to, or None for any other route."""
    routing = scope.get("extensions", {}).get(ROUTING_CONTEXT) or {}
    operation_id = routing.get("operation_id")
    return str(operation_id) if operation_id is not None else None


def scope_project_id(scope: Scope) -> str | None:
    """The `sub` the security handler returned (the key's project), once a key was accepted."""
    context = scope.get("extensions", {}).get(SECURITY_CONTEXT) or {}
    user = context.get("user")
    return str(user) if user is not None else None


# --- validators -----------------------------------------------------------------------------


def by_media_type(validators: Mapping[str, Any]) -> Mapping[str, Any]:
    """A `validator_map` entry keyed by media-type patterns (`*/*json`), as Connexion's own.

    `connexion.datastructures.MediaTypeDict` is what makes `*/*json` match
    `application/problem+json`; it is not exported as public.
    """
    return MediaTypeDict(validators)


class OptionalBody:
    """For Connexion's request-body validators: a body that is absent where the operation's
    `requestBody` is not `required` (OpenAPI's default) is valid, and not validated.

    Connexion validates a missing body as `None` (a JSON body then fails "must not be empty";
    a form body's parser raises KeyError on the missing Content-Type: a 500), and takes a
    chunked body with no Content-Length for a missing one. `_required` and `wrap_receive` are
    its internals.
    """

    _required: bool

    async def wrap_receive(self, receive: Receive, *, scope: Scope) -> tuple[Receive, Scope]:
        headers = Headers(scope=scope)
        length = headers.get("content-length", "0").strip()
        absent = length in ("", "0") and "transfer-encoding" not in headers
        if absent and not self._required:
            return receive, scope
        return await super().wrap_receive(receive, scope=scope)  # type: ignore[misc,no-any-return]


class FormBodyValidator(OptionalBody, FormDataValidator):
    """Connexion's application/x-www-form-urlencoded validator, an absent optional body valid."""


class MultipartBodyValidator(OptionalBody, MultiPartFormDataValidator):
    """Connexion's multipart/form-data validator, an absent optional body valid."""


class RequestBodyValidator(OptionalBody, JSONRequestBodyValidator):
    """Connexion's JSON request-body validator, the parsed body handed to `check`; an absent
    optional body is valid."""

    def check(self, body: Any, *, schema: dict[str, Any], nullable: bool) -> None:
        """Raise a `BadRequestProblem` if `body` does not conform to `schema`."""
        raise NotImplementedError

    def _validate(self, body: Any) -> dict[str, Any] | None:
        # Connexion's hook for the parsed body; `_schema` and `_nullable` are what its
        # constructor stored from the operation.
        self.check(body, schema=self._schema, nullable=self._nullable)
        return None


class ResponseBodyValidator(JSONResponseBodyValidator):
    """Connexion's JSON response-body validator, the body handed to `parse` and `check`."""

    def parse(self, body: bytes) -> Any:
        """The response body's bytes as the value to check."""
        raise NotImplementedError

    def check(self, body: Any, *, schema: dict[str, Any], operation_id: str | None) -> None:
        """Raise `NonConformingResponseBody` if `body` does not conform to `schema`."""
        raise NotImplementedError

    @property
    def nullable(self) -> bool:
        """Whether the response may be null (what Connexion's constructor stored)."""
        return bool(self._nullable)

    def _parse(self, stream: Iterable[bytes]) -> Any:
        # Connexion's hook that reads the body it buffered (with `json`, where we use orjson).
        return self.parse(b"".join(stream))

    def _validate(self, body: Any) -> None:
        # Connexion's hook for the parsed body; `_schema` and `_scope` are what its
        # constructor stored from the operation and the request.
        self.check(body, schema=self._schema, operation_id=scope_operation_id(self._scope))


# --- security -------------------------------------------------------------------------------


class BearerTokenHandler(BearerSecurityHandler):
    """Connexion's bearer handler with its token check from code, not `x-bearerInfoFunc`.

    Subclasses say how a token is checked (`token_info_for`) and read it (`bearer_token`).
    """

    def token_info_for(self, scheme: dict[str, Any]) -> TokenInfo:
        """The coroutine turning a token into token info for this security scheme."""
        raise NotImplementedError

    def bearer_token(self, request: ConnexionRequest) -> str | None:
        """The request's bearer token; None if it carries no bearer credentials."""
        raise NotImplementedError

    def _resolve_func(self, security_scheme: dict[str, Any]) -> Any:
        # Where Connexion looks the scheme's `x-bearerInfoFunc` up; the contract carries none.
        return self.token_info_for(security_scheme)

    def _get_verify_func(self, token_info_func: Any) -> Any:
        # Connexion's own wraps the function to split the header its way (and answers a
        # malformed one with its own message); `NO_VALUE` is its "no credentials" sentinel,
        # which makes it answer 401 or try the next scheme.
        async def verify(request: ConnexionRequest) -> Any:
            token = self.bearer_token(request)
            if token is None:
                return NO_VALUE
            return await token_info_func(token)

        return verify


def with_info_func(handler: type, info_for: Callable[[dict[str, Any]], Any]) -> type:
    """`handler` (a connexion.security class) taking its info function from `info_for(scheme)`.

    Connexion resolves that function from an `x-…InfoFunc` in the spec, in `_resolve_func`
    (`get_tokeninfo_func` for OAuth2 and OpenID Connect); a mocked spec has none.
    """

    def resolve(self: Any, scheme: dict[str, Any]) -> Any:
        return info_for(scheme)

    hook = "get_tokeninfo_func" if issubclass(handler, OAuthSecurityHandler) else "_resolve_func"
    return type(handler.__name__, (handler,), {hook: resolve})


# --- the compiled request pipeline (api/openapi/pipeline.py) ----------------------------------
# Each operation's pieces as Connexion's own middlewares build them (security verification,
# the validator_map's validators, the decorated view, its request context), held once per
# operation so that one callable runs them in order without a layer finding the operation
# again. The middleware classes of connexion.middleware.* and their per-operation objects are
# not public; `SpecMiddleware` is the base Connexion recognises when it hands each API's spec
# and options to a middleware of its stack (`add_api`) as the app starts.


# The path item keys Connexion routes (the live set `route_methods` extends).
ROUTED_METHODS = CONNEXION_METHODS


async def _never(_scope: Scope, _receive: Receive, _send: Send) -> None:
    raise RuntimeError("a per-operation piece of the compiled pipeline forwarded a request")


def resolve_operation(spec: Any, path: str, method: str, options: Mapping[str, Any]) -> Any:
    """Connexion's operation object for `method path`, its handler resolved as every Connexion
    middleware resolves it (the API options' resolver); raises Connexion's `ResolverError`."""
    return spec.operation_cls.from_spec(
        spec,
        path=path,
        method=method,
        resolver=options.get("resolver") or Resolver(),
        uri_parser_class=options.get("uri_parser_class"),
    )


def route_template(operation: Any, path: str) -> str:
    """The Starlette path Connexion's routing registers `path` under (`{my_id}`, `{n:int}`)."""
    from connexion.frameworks.starlette import starlettify_path

    return str(starlettify_path(path, operation.get_path_parameter_types()))


def security_handlers(options: Mapping[str, Any]) -> Any:
    """The API's security handler factory, built from its `security_map` as Connexion's is."""
    return SecurityHandlerFactory(options.get("security_map"))


def security_check(operation: Any, handlers: Any) -> Callable[[ConnexionRequest], Any] | None:
    """Connexion's verification of `operation`'s security requirements (None: it has none).

    Awaited with a `ConnexionRequest`: raises Connexion's 401/403 problems, or records the
    token info and user in the request's context (`scope["extensions"]`), as its
    SecurityMiddleware does.
    """
    secured = SecurityOperation.from_operation(
        operation, next_app=_never, security_handler_factory=handlers
    )
    return secured.verification_fn if secured.security else None


def request_checks(
    operation: Any, options: Mapping[str, Any], next_app: ASGIApp
) -> tuple[Any, ASGIApp | None]:
    """(parameter validator, body validation) as Connexion's RequestValidationMiddleware builds
    them from the API's `validator_map` and `strict_validation`.

    The parameter validator's `validate(scope)` raises the 400 problem. The body validation is
    Connexion's own per-operation ASGI app, for operations that document a request body: it
    checks the parameters, the media type and the body, then calls `next_app`; None otherwise,
    where (no `requestBody`: nothing consumed, no body schema) it would check only parameters.
    """
    stock = RequestValidationOperation(
        next_app,
        operation=operation,
        strict_validation=bool(options.get("strict_validation")),
        validator_map=options.get("validator_map"),
    )
    uri_parser = operation._uri_parser_class(operation.parameters, operation.body_definition())
    parameters = stock._validator_map["parameter"](
        operation.parameters,
        uri_parser=uri_parser,
        strict_validation=stock.strict_validation,
        security_query_params=stock.security_query_params,
    )
    return parameters, (stock if operation.request_body else None)


def decorated_view(operation: Any, options: Mapping[str, Any]) -> Callable[[], Awaitable[Any]]:
    """The operation's handler decorated as the AsyncApp decorates it, built once: awaited with
    no argument inside `enter_operation`, it reads the request from Connexion's context, passes
    the handler its parameters and returns the Starlette response it made of the result."""
    from connexion.jsonifier import Jsonifier

    once = OnceDecoratedOperation.from_operation(
        operation,
        pythonic_params=bool(options.get("pythonic_params")),
        jsonifier=options.get("jsonifier") or Jsonifier(),
    )
    return once.fn  # type: ignore[no-any-return]


def mark_routed(scope: Scope, operation_id: str | None, api_base_path: str) -> None:
    """Record in `scope` what Connexion's routing records: the operation and its API's base path
    (read by the request log, the metrics and the response validators)."""
    routing = scope.setdefault("extensions", {}).setdefault(ROUTING_CONTEXT, {})
    routing.update({"api_base_path": api_base_path, "operation_id": operation_id})


def enter_operation(scope: Scope, receive: Receive, operation: Any) -> dict[str, Any]:
    """Connexion's request context (`connexion.context`, `connexion.request`), set as its
    ContextMiddleware sets it, once security has recorded the token info in `scope`; returns
    the context (token info and user, when security gave them)."""
    context: dict[str, Any] = scope.get("extensions", {}).get(SECURITY_CONTEXT, {})
    _context.set(context)
    _operation.set(operation)
    _receive.set(receive)
    _scope.set(scope)
    return context


def _content_type(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The first Content-Type header's value, as Connexion's `extract_content_type` finds it
    (the name compared case-insensitively; no latin-1 letter lowercases to ASCII)."""
    for name, value in headers:
        if name.lower() == b"content-type":
            return value
    return None


class ResponseChecks:
    """Connexion's response validation for one operation, run on a whole answer held in memory
    instead of on the messages it sends: the media type produced, the required headers and the
    body through the `validator_map`'s response validator, with the same exceptions.

    `ResponseValidationOperation`'s checks are its own methods; its body validators are
    `wrap_send` around `_parse` and `_validate`, called here on the body at once. What each
    (status, media type) needs is looked up once.
    """

    MOST_KINDS = 64  # (status, media type) pairs kept; an app answers a handful

    def __init__(self, operation: Any, options: Mapping[str, Any]) -> None:
        self._operation = operation
        self._validator_map = options.get("validator_map")
        self._stock = ResponseValidationOperation(
            _never, operation=operation, validator_map=self._validator_map
        )
        self._kinds: dict[tuple[int, str], tuple[dict[str, Any], Any, dict[str, Any], bool]] = {}
        # Content-Type value -> (mime type, encoding, whether the operation produces it).
        self._media: dict[bytes | None, tuple[str, str, bool]] = {}

    def check(
        self, scope: Scope, status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> None:
        """Raise Connexion's `NonConformingResponse` problem if the answer breaks the contract."""
        stock = self._stock
        media = self._media.get(_content_type(headers))
        if media is None:
            media = self._media_of(headers)
        mime_type, encoding, produced = media
        if status < 400 and not produced:
            stock.validate_mime_type(mime_type)  # raises, with Connexion's words
        kind = self._kinds.get((status, mime_type))
        if kind is None:
            kind = self._kind(status, mime_type)
        definition, validator_class, schema, nullable = kind
        if definition.get("headers"):
            stock.validate_required_headers(headers, definition)
        if validator_class is None:
            return
        validator = validator_class(scope, schema=schema, nullable=nullable, encoding=encoding)
        parsed = validator._parse(iter((body,)))
        if not (parsed is None and nullable):
            validator._validate(parsed)

    def _media_of(self, headers: list[tuple[bytes, bytes]]) -> tuple[str, str, bool]:
        """What Connexion's checks make of the answer's Content-Type, worked out once per value."""
        stock = self._stock
        mime_type, encoding = stock.extract_content_type(headers)
        try:
            stock.validate_mime_type(mime_type)
            produced = True
        except NonConformingResponseHeaders:
            produced = False
        media = (mime_type, encoding, produced)
        if len(self._media) < self.MOST_KINDS:
            self._media[_content_type(headers)] = media
        return media

    def _kind(
        self, status: int, mime_type: str
    ) -> tuple[dict[str, Any], Any, dict[str, Any], bool]:
        operation = self._operation
        definition = operation.response_definition(str(status), mime_type)
        try:
            validator_class = self._stock._validator_map["response"][mime_type]
        except KeyError:
            validator_class = None  # Connexion skips the body, logging that it does
        kind = (
            definition,
            validator_class,
            operation.response_schema(str(status), mime_type),
            bool(is_nullable(definition)),
        )
        if len(self._kinds) < self.MOST_KINDS:
            self._kinds[(status, mime_type)] = kind
        return kind

    def streamed(self, response: ASGIApp) -> ASGIApp:
        """`response` (an answer not held in memory) behind Connexion's own response
        validation middleware for this operation, which checks the messages it sends."""
        return ResponseValidationOperation(
            response, operation=self._operation, validator_map=self._validator_map
        )


class SpecAwareMiddleware(SpecMiddleware):
    """A middleware of Connexion's stack that is handed every API as the app starts:
    `add_api(specification, base_path=..., **options)` with the options given to `add_api`
    (resolver, security_map, validator_map, validate_responses, strict_validation, …)."""

    def add_api(self, specification: Any, **options: Any) -> None:
        raise NotImplementedError

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


def started_middleware(app: Any, kind: type) -> Any:
    """The instance of middleware class `kind` in a started app's stack, or None.

    Connexion keeps every middleware it built as the app started in `middleware.middleware_stack`
    (internal), a list from the outermost in.
    """
    for middleware in app.middleware.middleware_stack or ():
        if isinstance(middleware, kind):
            return middleware
    return None


def path_only_view(
    operation: Any, options: Mapping[str, Any]
) -> Callable[[Mapping[str, Any], Mapping[str, Any]], Awaitable[Any]] | None:
    """For an operation whose handler takes only path parameters (and context entries such as
    `token_info`): the handler called with them, named and cast as Connexion's parameter
    decorator names and casts them, its result made a response by Connexion's response
    decorator; None for any other operation, which keeps `decorated_view`.

    What `_PathOnlyParameters` does inside the decorated view, without the view's request
    object, URI parser and wrappers around it (awaited inside `enter_operation`, which the
    response decorator reads the operation from).
    """
    from connexion.decorators.parameter import pythonic, sanitized
    from connexion.decorators.response import AsyncResponseDecorator
    from connexion.frameworks.starlette import Starlette as StarletteFramework
    from connexion.jsonifier import Jsonifier
    from starlette.concurrency import run_in_threadpool

    function = operation.function
    arguments, has_kwargs = inspect_function_arguments(unwrap_decorators(function))
    definitions = _path_only(operation, arguments, has_kwargs)
    if definitions is None:
        return None
    sanitize = pythonic if options.get("pythonic_params") else sanitized
    names = {name: sanitize(name) for name in definitions}
    wanted = frozenset(arguments)

    if inspect.iscoroutinefunction(function):
        run = function
    else:  # as Connexion's ASGI decorator runs a plain function: in the thread pool

        async def run(*args: Any, **kwargs: Any) -> Any:
            return await run_in_threadpool(function, *args, **kwargs)

    respond = AsyncResponseDecorator(
        framework=StarletteFramework, jsonifier=options.get("jsonifier") or Jsonifier()
    )(run)

    async def view(path_params: Mapping[str, Any], context: Mapping[str, Any]) -> Any:
        kwargs = {
            names.get(name) or sanitize(name): _get_val_from_param(value, definitions[name])
            if name in definitions
            else value
            for name, value in path_params.items()
        }
        for key, value in context.items():
            if key in wanted:
                kwargs[key] = value
        return await respond(**kwargs)

    return view
