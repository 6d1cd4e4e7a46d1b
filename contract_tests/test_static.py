"""Static contract checks: the document itself, its examples, its handlers, the routes served."""

from __future__ import annotations

import re
from typing import Any

import connexion
import pytest
import schemathesis
import yaml
from openapi_spec_validator import OpenAPIV31SpecValidator
from starlette.routing import Route
from starlette.testclient import TestClient

from api.assembly import SPEC_ROUTES
from api.openapi.connexion_shim import asgi_routes, routed_operation_ids
from api.openapi.spec import HTTP_METHODS, OpenAPI31Specification
from api.openapi.validation import compile_schema
from api.openapi.walk import documented_responses
from api.ops import health
from api.server.app import OPERATIONAL_ROUTES, create_app
from api.server.resolver import OperationIdResolver
from tests.support import ROOT

SPEC_BYTES = (ROOT / "openapi.yaml").read_bytes()
SPEC = yaml.safe_load(SPEC_BYTES)
OPERATION = "GET /v1/renders/{id}/engagement"


def test_the_document_is_valid_openapi_3_1() -> None:
    assert str(SPEC["openapi"]).startswith("3.1.")
    errors = [e.message for e in OpenAPIV31SpecValidator(SPEC).iter_errors()]
    assert errors == []
    # ... and Schemathesis, which generates every case from it, reads it without complaint.
    schema = schemathesis.openapi.from_path(ROOT / "openapi.yaml")
    assert [op.ok().label for op in schema.get_all_operations()] == [  # type: ignore[union-attr]
        "GET /v1/renders/{id}/engagement"
    ]


EXAMPLES = {
    response.where(example): (response.schema, example.value)
    for response in documented_responses(OpenAPI31Specification.from_path(ROOT / "openapi.yaml"))
    for example in response.examples
}


def test_the_walk_finds_every_example() -> None:
    assert sorted(EXAMPLES) == [
        f"{OPERATION} 200 application/json example",
        f"{OPERATION} 401 application/json example",
        f"{OPERATION} 401 application/json schema example",  # the Error schema's own
        f"{OPERATION} 404 application/json example",
        f"{OPERATION} 404 application/json schema example",
    ]


@pytest.mark.parametrize("example_at", sorted(EXAMPLES))
def test_every_example_validates_against_its_own_schema(example_at: str) -> None:
    schema, example = EXAMPLES[example_at]
    assert schema is not None
    assert [e.message for e in compile_schema(schema).iter_errors(example)] == []


def test_a_wrong_example_would_be_caught() -> None:
    schema, _ = EXAMPLES[f"{OPERATION} 404 application/json example"]
    assert schema is not None
    assert list(compile_schema(schema).iter_errors({"error": {"code": 404}}))


def test_every_operation_id_resolves_to_a_handler_with_the_specs_parameters() -> None:
    resolver = OperationIdResolver()
    for path, item in SPEC["paths"].items():
        path_params = list(item.get("parameters", []))
        for method in HTTP_METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            handler = resolver.resolve_function_from_operation_id(operation["operationId"])
            assert callable(handler), f"{method.upper()} {path}"
            names = set(handler.__code__.co_varnames[: handler.__code__.co_argcount])
            for param in [*path_params, *operation.get("parameters", [])]:
                name = param["name"] if "name" in param else param["$ref"].rsplit("/", 1)[-1]
                resolved = SPEC["components"]["parameters"].get(name, {"name": name})["name"]
                assert resolved in names, f"{operation['operationId']} lacks {resolved!r}"


def _as_flask_rule(path: str) -> str:
    return re.sub(r"\{([^}]+)\}", r"<\1>", path)


def served_routes(app: Any) -> set[tuple[str, str]]:
    with TestClient(app):  # Connexion adds the API's routes when the app starts
        if isinstance(app, connexion.FlaskApp):
            return {
                (rule.rule, method)
                for rule in app.app.url_map.iter_rules()
                for method in rule.methods - {"HEAD", "OPTIONS"}
            }
        # AsyncApp: plain routes on its Starlette router; the API's operations by operationId
        # (Connexion's routing middleware routes them, not this router).
        served = {
            (_as_flask_rule(route.path), method)
            for route in asgi_routes(app)
            if isinstance(route, Route)
            for method in (route.methods or set()) - {"HEAD", "OPTIONS"}
        }
        where = {
            item[method]["operationId"]: (_as_flask_rule(path), method.upper())
            for path, item in SPEC["paths"].items()
            for method in HTTP_METHODS
            if method in item
        }
        served |= {where[operation_id] for operation_id in routed_operation_ids(app)}
        return served


@pytest.mark.parametrize("app_class", [connexion.FlaskApp, connexion.AsyncApp])
def test_the_app_serves_only_the_specs_paths_and_listed_operational_routes(
    settings: Any, app_class: Any
) -> None:
    declared = {
        (_as_flask_rule(path), method.upper())
        for path, item in SPEC["paths"].items()
        for method in HTTP_METHODS
        if method in item
    }
    # The health routes are answered before routing (api/ops/health.py), the rest by the framework.
    framework_routes = {(route, "GET") for route in SPEC_ROUTES}
    assert set(OPERATIONAL_ROUTES) == {*SPEC_ROUTES, *health.ROUTES}
    app = create_app(settings, app_class=app_class)
    assert served_routes(app) == declared | framework_routes


def test_the_operational_middleware_routes_answer_and_nothing_beside_them(app: Any) -> None:
    """/metrics and Swagger UI are answered by middleware (api/ops/operational.py), not by routes
    the framework lists: each listed one answers, and paths next to them are the 404."""
    from api.ops.operational import ROUTES

    assert set(ROUTES) == {"/metrics", "/ui", "/ui/", "/docs", "/ui/{file}"}
    with TestClient(app) as client:
        for route in ROUTES:
            assert client.get(route.replace("{file}", "swagger-ui.css")).status_code == 200, route
        for near in ("/metrics/", "/metricsx", "/docs/", "/ui/x/swagger-ui.css", "/uix"):
            answer = client.get(near)
            assert answer.status_code == 404, near
            assert answer.json()["error"]["code"] == "not_found"


def test_an_undeclared_route_would_be_caught(settings: Any) -> None:
    extra = create_app(settings)
    extra.add_url_rule("/debug", "debug", lambda: "", methods=["GET"])
    assert ("/debug", "GET") in served_routes(extra)


def test_the_served_document_is_the_file(app: Any) -> None:
    with TestClient(app) as client:
        as_json = client.get("/openapi.json")
        as_yaml = client.get("/openapi.yaml")
    assert as_json.status_code == 200 and as_json.json() == SPEC
    assert as_yaml.status_code == 200 and as_yaml.content == SPEC_BYTES
