"""OpenAPI 3.1 on stock Connexion 3.3: the one module that reaches into Connexion's loading.

Connexion 3.3 checks documents against the 3.0 meta-schema (so it refuses `openapi: 3.1.0`) and
validates with JSON Schema Draft 4. This module changes how a document is loaded and registered:

- `OpenAPI31Specification`, a spec class that validates the document with
  openapi-spec-validator (3.1, or 3.0 for older documents) and loads YAML without Connexion's
  Jinja pass, so the document is used exactly as written; it owns the compiled-schema cache.
- `add_api()` registers it on an app with our validators (api/validation.py), bypassing
  Connexion's `add_api`, which would re-parse it as 3.0. It uses `connexion.middleware.main.API`
  and `middleware.options`: internals of Connexion 3.3 (pinned <3.4, checked by
  tests/test_openapi31.py).
- `OnceDecoratedApi`, the AsyncApp's API class with each operation's view decorated once
  (Connexion 3.3 rebuilds it on every request; see the class).
"""

from __future__ import annotations

import logging
import pathlib
import re
from collections.abc import Iterator
from functools import cached_property
from typing import Any

import yaml
from connexion.apps.asynchronous import AsyncApi, AsyncOperation
from connexion.decorators import StarletteDecorator
from connexion.exceptions import (
    InvalidSpecification,
)
from connexion.middleware.main import API
from connexion.spec import OpenAPISpecification
from openapi_spec_validator import validate as validate_document
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from starlette.types import Scope

from api.validation import SchemaCache, validator_map

logger = logging.getLogger("craftkit.openapi31")

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


# --- the document ---------------------------------------------------------------------------


def load_document(path: str | pathlib.Path) -> dict[str, Any]:
    """Parse a YAML or JSON document as written (no templating, unlike Connexion's loader)."""
    text = pathlib.Path(path).read_text(encoding="utf-8")
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidSpecification(f"not valid YAML or JSON: {problem}{where}") from None
    if not isinstance(document, dict):
        raise InvalidSpecification("not an OpenAPI document (top level is not a map)")
    return document


class OpenAPI31Specification(OpenAPISpecification):
    """Connexion's OpenAPI 3 spec class, validated as 3.1 (or 3.0) by openapi-spec-validator."""

    @classmethod
    def _validate_spec(cls, spec: dict[str, Any]) -> None:
        version = str(spec.get("openapi", ""))
        if not (version.startswith("3.1.") or version.startswith("3.0.")):
            raise InvalidSpecification(
                f"openapi: {version or '(missing)'} is not supported; expected 3.1.x or 3.0.x"
            )
        try:
            validate_document(spec)
        except OpenAPIValidationError as exc:
            # The validator's messages end with a dump of the whole instance: keep the sentence.
            what = exc.message.split("\n", 1)[0]
            where = " > ".join(str(part) for part in exc.absolute_path)
            raise InvalidSpecification(
                f"Invalid OpenAPI {version} document: {what}" + (f" (at {where})" if where else "")
            ) from exc

    @property
    def is_31(self) -> bool:
        return str(self.raw.get("openapi", "")).startswith("3.1.")

    @cached_property
    def schemas(self) -> SchemaCache:
        """This document's compiled validators, filled by `add_api` before the app starts."""
        return SchemaCache(oas30=not self.is_31)

    @classmethod
    def from_path(cls, path: str | pathlib.Path) -> OpenAPI31Specification:
        document = load_document(path)
        return cls(document, base_uri=f"{pathlib.Path(path).resolve().parent}/")

    def operations(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(path, method, resolved operation) for every operation in the document."""
        for path, item in self.spec.get("paths", {}).items():
            for method in HTTP_METHODS:
                if isinstance(item.get(method), dict):
                    yield path, method, item[method]


def add_api(app: Any, spec: OpenAPI31Specification, **options: Any) -> None:
    """Register `spec` on a Connexion app, as `app.add_api` does for the documents it loads.

    Connexion's own `add_api` re-parses its argument with its 3.0-only `Specification.load`;
    this hands it the already validated 3.1 spec object instead.
    """
    middleware = app.middleware
    if middleware.middleware_stack is not None:
        raise RuntimeError("Cannot add an API after the application has started")
    spec.schemas.warm(spec)
    inner: Any = getattr(app, "_middleware_app", None)
    if getattr(inner, "api_cls", None) is AsyncApi:
        # The AsyncApp builds its routes with `api_cls` when it starts (Connexion 3.3 internal).
        inner.api_cls = OnceDecoratedApi
    merged = middleware.options.replace(validator_map=validator_map(spec.schemas), **options)
    middleware.apis.append(API(spec, base_path=None, name=None, **merged.__dict__))


# --- what Connexion records in the ASGI scope -----------------------------------------------
# Connexion keeps the matched operation and the security handler's token info under
# `scope["extensions"]` (its `ROUTING_CONTEXT` and `connexion_context` keys, neither a public
# API). The request log and the metrics read them here, after the request: a test of each
# fails if an upgrade moves them.


def scope_operation_id(scope: Scope) -> str | None:
    """The operationId Connexion routed the request to, or None for any other route."""
    routing = scope.get("extensions", {}).get("connexion_routing") or {}
    operation_id = routing.get("operation_id")
    return str(operation_id) if operation_id is not None else None


def scope_project_id(scope: Scope) -> str | None:
    """The `sub` the security handler returned (the key's project), once a key was accepted."""
    context = scope.get("extensions", {}).get("connexion_context") or {}
    user = context.get("user")
    return str(user) if user is not None else None


# --- the AsyncApp's views, decorated once ---------------------------------------------------


class _DecorateOnce(StarletteDecorator):
    """Connexion's Starlette decorator, keeping the decorated view it builds for a function.

    Its per-request wrapper calls `decorate(function)`, which wraps the view anew (three
    `functools.wraps`, `inspect.signature` of the unwrapped handler, a parameter decorator):
    about a tenth of a request's CPU under load (455 -> 410 µs a request measured with and
    without this), and the same on every request of an operation. The result holds no
    request state (the request is its argument), so one is kept and reused.
    """

    _decorated: tuple[Any, Any] | None = None

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


# --- the routes an app registers ------------------------------------------------------------


def registered_routes(app: Any) -> set[tuple[str, str]]:
    """(path, method) of every route the app's framework registers, FlaskApp or AsyncApp.

    For tests that prove no route exists outside the contract. AsyncApp keeps its Starlette
    router and its APIs in `_middleware_app`, an internal of Connexion 3.3 (tests/
    test_openapi31.py checks it is still there); its operations have no Starlette route at
    all (they are dispatched by operationId after Connexion's routing), so they are listed by
    the path and method the spec gives their operationId. Call after the app has started:
    Connexion adds API routes at start-up. Path parameters read `<name>` in both.
    """
    from starlette.routing import Mount

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
