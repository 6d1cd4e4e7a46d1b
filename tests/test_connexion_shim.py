"""Each Connexion internal api/openapi/connexion_shim.py uses, as the shim expects it.

The HTTP tests exercise them end to end; these name the internal that moved, and what of
ours depends on it, when an upgrade changes one.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import inspect
import re
import tomllib
from dataclasses import replace
from typing import Any

import connexion
import pytest
from connexion.lifecycle import ConnexionRequest
from connexion.middleware.main import API, ConnexionMiddleware
from connexion.middleware.routing import RoutingMiddleware
from connexion.security import (
    NO_VALUE,
    ApiKeySecurityHandler,
    BasicSecurityHandler,
    BearerSecurityHandler,
    OAuthSecurityHandler,
)
from connexion.spec import OpenAPISpecification
from connexion.validators import (
    JSONRequestBodyValidator,
    JSONResponseBodyValidator,
)
from connexion.validators import ParameterValidator as ConnexionParameterValidator
from starlette.routing import Router
from starlette.testclient import TestClient

from api.assembly import assemble
from api.openapi import connexion_shim as shim
from api.openapi.spec import OpenAPI31Specification
from api.openapi.validation import ParameterValidator
from api.server.app import create_app
from api.server.resolver import OperationIdResolver
from tests.support import ROOT

VERSION = importlib.metadata.version("connexion")


def moved(internal: str, used_for: str) -> str:
    return (
        f"Connexion {VERSION} changed {internal}, which api/openapi/connexion_shim.py uses for "
        f"{used_for}: adapt the shim, then the pin in pyproject.toml"
    )


def parameters(func: Any) -> list[str]:
    return list(inspect.signature(func).parameters)


def test_the_installed_connexion_is_in_the_pinned_range():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pin = next(d for d in project["dependencies"] if d.startswith("connexion"))
    assert pin.endswith(">=3.3,<3.4"), "the shim was checked on 3.3 only: re-run these tests"
    assert re.fullmatch(r"3\.3\.\d+", VERSION), f"connexion {VERSION} is outside {pin}"


# --- loading ------------------------------------------------------------------------------


def test_the_spec_class_checks_documents_in_validate_spec():
    checked: list[dict[str, Any]] = []

    class Recording(shim.Specification):
        @classmethod
        def check_document(cls, document: dict[str, Any]) -> None:
            checked.append(document)

    assert isinstance(inspect.getattr_static(OpenAPISpecification, "_validate_spec"), classmethod)
    document = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}}
    spec = Recording(document, base_uri="")
    assert checked, moved("OpenAPISpecification._validate_spec", "checking 3.1 documents")
    for name in ("raw", "spec", "get_path_params"):
        assert hasattr(spec, name), moved(f"OpenAPISpecification.{name}", "reading the document")


def test_apps_keep_their_apis_and_options_on_the_middleware():
    app = connexion.FlaskApp(__name__)
    middleware = app.middleware
    assert isinstance(middleware, ConnexionMiddleware)
    for name in ("middleware_stack", "apis", "options", "middlewares"):
        assert hasattr(middleware, name), moved(f"ConnexionMiddleware.{name}", "register_api")
    assert middleware.middleware_stack is None, moved("middleware_stack", "refusing a started app")
    merged = middleware.options.replace(strict_validation=True)
    assert merged.strict_validation is True, moved("_Options.replace", "register_api's options")
    assert parameters(API)[:2] == ["specification", "base_path"], moved("API()", "register_api")


def test_a_registered_spec_is_found_again():
    spec = OpenAPI31Specification.from_path(ROOT / "openapi.yaml")
    app = connexion.AsyncApp(__name__)
    shim.register_api(app, spec)
    assert shim.specifications(app) == [spec], moved("API.specification", "specifications()")


# --- the AsyncApp's views, decorated once -------------------------------------------------


def test_the_connexion_internals_the_once_decorated_views_rely_on():
    """Fails loudly if an upgrade moves what OnceDecoratedApi replaces."""
    from connexion.apps.asynchronous import AsyncApi, AsyncASGIApp, AsyncOperation
    from connexion.decorators import StarletteDecorator

    assert AsyncASGIApp.api_cls is AsyncApi, moved("AsyncASGIApp.api_cls", "decorate_views_once")
    inner = connexion.AsyncApp(__name__)._middleware_app
    assert isinstance(inner, AsyncASGIApp) and isinstance(inner.apis, dict), moved(
        "AsyncApp._middleware_app", "decorate_views_once, async_operations"
    )
    assert isinstance(vars(AsyncOperation)["fn"], property), moved(
        "AsyncOperation.fn", "OnceDecoratedOperation"
    )
    assert callable(vars(AsyncApi)["make_operation"]), moved(
        "AsyncApi.make_operation", "OnceDecoratedApi"
    )
    assert "decorate" in vars(StarletteDecorator.__mro__[2]), moved(  # BaseDecorator.decorate
        "BaseDecorator.decorate", "_DecorateOnce"
    )


def test_an_async_operation_decorates_its_view_once(settings, tenant, make_render, monkeypatch):
    from connexion.decorators import StarletteDecorator

    built: list[Any] = []
    decorate = StarletteDecorator.decorate

    def counted(self: Any, function: Any) -> Any:
        built.append(function)
        return decorate(self, function)

    monkeypatch.setattr(StarletteDecorator, "decorate", counted)
    # Connexion's own stack (the compiled pipeline calls such a handler without the view).
    app = create_app(replace(settings, pipeline="connexion"))
    path = f"/v1/renders/{make_render(tenant['project'])}/engagement"
    with TestClient(app) as client:
        answers = [client.get(path, headers=tenant["headers"]) for _ in range(3)]
        operations = shim.async_operations(app)
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert len({a.content for a in answers}) == 1
    assert operations and all(isinstance(op, shim.OnceDecoratedOperation) for op in operations)
    assert len(built) == 1  # stock Connexion 3.3 decorates on every request: 3 here


def test_the_internals_the_path_only_parameters_rely_on():
    from connexion.decorators import StarletteDecorator, parameter
    from connexion.operations import AbstractOperation

    assert isinstance(vars(StarletteDecorator.__mro__[2])["_parameter_decorator_cls"], property), (
        moved("BaseDecorator._parameter_decorator_cls", "_PathOnlyParameters")
    )
    assert parameter.CONTEXT_NAME == "context_", moved("CONTEXT_NAME", "_path_only")
    found = list(inspect.signature(parameter._get_val_from_param).parameters)
    assert found == ["value", "param_definitions"], moved("_get_val_from_param", "casting")
    for name in ("request_body", "parameters"):
        assert isinstance(getattr(AbstractOperation, name, None), property), moved(
            f"AbstractOperation.{name}", "_path_only"
        )
    decorator = parameter.AsyncParameterDecorator(framework=object, pythonic_params=False)
    assert decorator.sanitize_fn("a-b[c]") == "ab_c", moved("sanitize_fn", "argument names")


@pytest.mark.parametrize("shortcut", [True, False], ids=["path-only", "connexion's own"])
def test_path_only_parameters_give_what_connexions_decorator_gives(
    settings, tenant, make_render, monkeypatch, shortcut
):
    """The handler gets the same arguments either way (Connexion's way forced by making
    `_path_only` decline)."""
    import handlers.renders

    seen: list[dict[str, Any]] = []
    real = handlers.renders.get_render_engagement

    def get_render_engagement(id: str, token_info: dict[str, Any]) -> dict[str, Any]:
        seen.append({"id": id, "token_info": token_info})
        return real(id, token_info)

    get_render_engagement.__module__ = real.__module__  # the resolver takes handlers/' own
    monkeypatch.setattr(handlers.renders, "get_render_engagement", get_render_engagement)
    if not shortcut:
        monkeypatch.setattr(shim, "_path_only", lambda *args: None)
    render = make_render(tenant["project"])
    with TestClient(create_app(settings)) as client:
        answer = client.get(f"/v1/renders/{render}/engagement", headers=tenant["headers"])
    assert answer.status_code == 200
    assert [s["id"] for s in seen] == [render]
    assert set(seen[0]["token_info"]) == {"sub", "owner"}
    assert seen[0]["token_info"]["owner"].project_id == tenant["project"].id


def test_operations_taking_more_than_path_parameters_keep_connexions_way():
    class Operation:
        def __init__(self) -> None:
            self.request_body: dict[str, Any] = {}
            self.parameters = [{"in": "path", "name": "id"}]

    assert shim._path_only(Operation(), ["id"], False) == {"id": {"in": "path", "name": "id"}}
    assert shim._path_only(Operation(), ["id"], True) is None  # **kwargs
    assert shim._path_only(Operation(), ["id", "context_"], False) is None
    with_query = Operation()
    with_query.parameters = [{"in": "path", "name": "id"}, {"in": "query", "name": "q"}]
    assert shim._path_only(with_query, ["id", "q"], False) is None
    with_body = Operation()
    with_body.request_body = {"content": {"application/json": {}}}
    assert shim._path_only(with_body, ["id", "body"], False) is None


@pytest.mark.parametrize("app_class", [connexion.FlaskApp, connexion.AsyncApp])
def test_registered_routes_sees_the_framework_routes(app_class):
    """Fails loudly if Connexion moves the AsyncApp router (`_middleware_app`) or Flask's map."""
    app = app_class(__name__)
    app.add_url_rule("/probe", "probe", lambda *_: "", methods=["GET"])
    with TestClient(app):
        assert ("/probe", "GET") in shim.registered_routes(app), moved(
            "AsyncApp._middleware_app.router / FlaskApp.app.url_map", "registered_routes()"
        )


# --- the middleware stack -----------------------------------------------------------------


def test_the_default_stack_holds_the_routing_middleware():
    assert RoutingMiddleware in ConnexionMiddleware.default_middlewares, moved(
        "ConnexionMiddleware.default_middlewares", "swapping in our routing (default_middlewares)"
    )
    stack = shim.default_middlewares(shim.Routing)
    assert shim.Routing in stack and RoutingMiddleware not in stack


def test_routing_hands_over_the_outer_and_each_apis_router(settings):
    seen: list[tuple[Router, list[Router]]] = []

    class Recording(shim.Routing):
        def adjust_routers(self, top: Router, apis: list[Router]) -> None:
            seen.append((top, apis))

    assert "add_api" in vars(RoutingMiddleware), moved("RoutingMiddleware.add_api", "Routing")
    spec = OpenAPI31Specification.from_path(settings.spec_path)
    app = assemble(
        spec, settings.spec_path, resolver=OperationIdResolver(), security_map={}, routing=Recording
    )
    with TestClient(app):
        pass
    assert seen and all(isinstance(top, Router) for top, _ in seen), moved(
        "RoutingMiddleware.router", "Routing.adjust_routers"
    )
    assert len(seen[-1][1]) == 1, moved("RoutingMiddleware's Mount per API", "adjust_routers")


def test_an_async_apps_own_routes_and_operations_are_readable(settings):
    app = create_app(settings, app_class=connexion.AsyncApp)
    with TestClient(app):
        paths = {getattr(route, "path", None) for route in shim.asgi_routes(app)}
        operations = shim.routed_operation_ids(app)
    assert "/openapi.json" in paths, moved("AsyncApp._middleware_app.router", "asgi_routes()")
    assert operations == {"getRenderEngagement"}, moved(
        "AsyncApp._middleware_app.apis", "routed_operation_ids()"
    )


# --- the scope ------------------------------------------------------------------------------


def test_the_routed_operation_and_token_info_are_in_the_scope():
    from connexion.middleware.abstract import ROUTING_CONTEXT

    scope: dict[str, Any] = {"type": "http", "extensions": {}}
    scope["extensions"][ROUTING_CONTEXT] = {"operation_id": "getRenderEngagement"}
    assert shim.scope_operation_id(scope) == "getRenderEngagement"
    ConnexionRequest(scope).context["user"] = "project-1"  # where the security handler puts it
    assert shim.scope_project_id(scope) == "project-1", moved(
        "the scope key of ConnexionRequest.context", "scope_project_id() (request log, metrics)"
    )
    assert shim.scope_operation_id({"type": "http"}) is None


def test_resolvers_are_given_the_operations_id_method_and_path():
    from connexion.operations import AbstractOperation

    for name in ("operation_id", "method", "path"):
        assert isinstance(getattr(AbstractOperation, name, None), property), moved(
            f"AbstractOperation.{name}", "api/server/resolver.py and the mock's MockResolver"
        )


def test_an_operations_media_types_are_readable_once_it_is_built(settings):
    """json_views.py asks after resolving; Connexion sets `produces` in the constructor."""
    seen: list[Any] = []

    class Keeping(OperationIdResolver):
        def resolve(self, operation: Any) -> Any:
            seen.append(operation)
            return super().resolve(operation)

    app = connexion.AsyncApp(__name__)
    from api.openapi.spec import OpenAPI31Specification, add_api

    add_api(app, OpenAPI31Specification.from_path(settings.spec_path), resolver=Keeping())
    with TestClient(app):  # the AsyncApp builds its operations when it starts
        pass
    assert seen, "the resolver was not called"
    assert set(shim.produced_media_types(seen[0])) == {"application/json"}, moved(
        "OpenAPIOperation.produces", "produced_media_types() (api/openapi/json_views.py)"
    )


# --- validators -----------------------------------------------------------------------------


def test_media_type_patterns_match_as_connexion_does():
    validators = shim.by_media_type({"*/*json": "json"})
    assert validators.get("application/problem+json") == "json", moved(
        "connexion.datastructures.MediaTypeDict", "validator_map's media types"
    )


def test_request_body_validators_keep_schema_and_nullable_and_call_validate():
    validator = JSONRequestBodyValidator(
        schema={"type": "object"}, nullable=True, encoding="utf-8", strict_validation=True
    )
    assert validator._schema == {"type": "object"}, moved("_schema", "RequestBodyValidator")
    assert validator._nullable is True, moved("_nullable", "RequestBodyValidator")
    assert "_validate" in vars(JSONRequestBodyValidator), moved(
        "JSONRequestBodyValidator._validate", "RequestBodyValidator.check"
    )


def test_response_body_validators_keep_scope_and_schema_and_call_parse_and_validate():
    scope = {"type": "http"}
    validator = JSONResponseBodyValidator(
        scope, schema={"type": "object"}, nullable=True, encoding="utf-8"
    )
    assert validator._scope is scope, moved("_scope", "ResponseBodyValidator (its operationId)")
    assert validator._schema == {"type": "object"}, moved("_schema", "ResponseBodyValidator")
    assert validator._nullable is True, moved("_nullable", "ResponseBodyValidator.nullable")
    for hook in ("_parse", "_validate"):
        assert hook in vars(JSONResponseBodyValidator), moved(
            f"JSONResponseBodyValidator.{hook}", "ResponseBodyValidator.parse/check"
        )


def test_connexion_builds_parameter_validators_as_ours_takes_them():
    assert parameters(ConnexionParameterValidator) == parameters(ParameterValidator), moved(
        "ParameterValidator's constructor", "api/openapi/validation.py ParameterValidator"
    )


# --- security -------------------------------------------------------------------------------


async def _info(*_args: Any, **_kwargs: Any) -> dict[str, Any]:
    return {"sub": "x"}


def test_bearer_handlers_resolve_and_verify_through_our_hooks():
    for hook in ("_resolve_func", "_get_verify_func"):
        assert hasattr(BearerSecurityHandler, hook), moved(f"{hook}", "BearerTokenHandler")
    asked: list[dict[str, Any]] = []

    class Handler(shim.BearerTokenHandler):
        def token_info_for(self, scheme: dict[str, Any]) -> shim.TokenInfo:
            asked.append(scheme)
            return _info

        def bearer_token(self, request: ConnexionRequest) -> str | None:
            return None

    verify = Handler().get_fn({"type": "http", "scheme": "bearer"}, None)
    assert asked and verify is not None, moved("get_fn → _resolve_func", "BearerTokenHandler")
    request = ConnexionRequest({"type": "http", "headers": []})
    assert asyncio.run(verify(request)) is NO_VALUE, moved("NO_VALUE", "no bearer credentials")


@pytest.mark.parametrize(
    ("handler", "scheme"),
    [
        (ApiKeySecurityHandler, {"type": "apiKey", "in": "header", "name": "X-Key"}),
        (BasicSecurityHandler, {"type": "http", "scheme": "basic"}),
        (OAuthSecurityHandler, {"type": "oauth2", "flows": {}}),
    ],
)
def test_other_handlers_take_their_info_function_from_code(handler: type, scheme: dict) -> None:
    asked: list[dict[str, Any]] = []

    def info_for(given: dict[str, Any]) -> Any:
        asked.append(given)
        return _info

    verify = shim.with_info_func(handler, info_for)().get_fn(scheme, [])
    hook = "get_tokeninfo_func" if handler is OAuthSecurityHandler else "_resolve_func"
    assert asked == [scheme] and verify is not None, moved(
        f"{handler.__name__}.{hook}", "the mock's security map (with_info_func)"
    )


def test_body_validators_keep_required_and_wrap_receive():
    """OptionalBody reads `_required` and wraps `wrap_receive` of Connexion's validators."""
    from connexion.validators import FormDataValidator, MultiPartFormDataValidator
    from connexion.validators.abstract import AbstractRequestBodyValidator

    assert inspect.iscoroutinefunction(AbstractRequestBodyValidator.wrap_receive)
    assert list(inspect.signature(AbstractRequestBodyValidator.wrap_receive).parameters) == [
        "self",
        "receive",
        "scope",
    ]
    for base in (FormDataValidator, MultiPartFormDataValidator, JSONRequestBodyValidator):
        validator = base(
            schema={"type": "object"},
            required=True,
            encoding="utf-8",
            strict_validation=True,
            uri_parser=None,
        )
        assert validator._required is True
    for ours in (shim.FormBodyValidator, shim.MultipartBodyValidator, shim.RequestBodyValidator):
        assert ours.__mro__[1] is shim.OptionalBody


# --- the compiled pipeline (api/openapi/pipeline.py) ---------------------------------------------


def test_the_internals_the_compiled_pipeline_builds_on(settings):
    from connexion import context as connexion_context
    from connexion.middleware.abstract import SpecMiddleware
    from connexion.middleware.request_validation import RequestValidationOperation
    from connexion.middleware.response_validation import ResponseValidationOperation
    from connexion.middleware.security import SecurityOperation

    for name in ("_context", "_operation", "_receive", "_scope"):
        assert hasattr(connexion_context, name), moved(f"connexion.context.{name}", "context")
    assert inspect.isabstract(SpecMiddleware), moved("SpecMiddleware", "receiving each API")
    assert "verification_fn" in inspect.getsource(SecurityOperation.__init__), moved(
        "SecurityOperation.verification_fn", "security checks"
    )
    for method in ("extract_content_type", "validate_mime_type", "validate_required_headers"):
        assert callable(getattr(ResponseValidationOperation, method, None)), moved(
            f"ResponseValidationOperation.{method}", "response checks"
        )
    assert isinstance(
        inspect.getattr_static(RequestValidationOperation, "security_query_params"), property
    ), moved("RequestValidationOperation.security_query_params", "parameter checks")
    assert "self._validator_map" in inspect.getsource(RequestValidationOperation.__init__)
    assert "self._validator_map" in inspect.getsource(ResponseValidationOperation.__init__)
    assert "middleware_stack" in inspect.getsource(ConnexionMiddleware.__call__), moved(
        "ConnexionMiddleware.middleware_stack", "finding the started pipeline"
    )
    # A resolved operation has what the pipeline reads of it.
    app = create_app(settings)
    (spec,) = shim.specifications(app)
    operation = shim.resolve_operation(
        spec, "/v1/renders/{id}/engagement", "get", {"resolver": OperationIdResolver()}
    )
    assert shim.route_template(operation, "/v1/renders/{id}/engagement") == (
        "/v1/renders/{id}/engagement"
    )
    for attribute in ("_uri_parser_class", "parameters", "request_body", "operation_id"):
        assert hasattr(operation, attribute), moved(f"operation.{attribute}", "compiling it")
    assert operation.response_schema("200", "application/json")["type"] == "object"
