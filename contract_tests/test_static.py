"""Static contract checks: the document itself, its examples, its handlers, the routes served."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import yaml
from openapi_schema_validator import OAS31Validator, oas31_format_checker
from openapi_spec_validator import OpenAPIV31SpecValidator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from starlette.testclient import TestClient

from api.app import OPERATIONAL_ROUTES, create_app
from api.openapi31 import HTTP_METHODS
from api.resolver import OperationIdResolver
from contract_tests.conftest import ROOT

SPEC_BYTES = (ROOT / "openapi.yaml").read_bytes()
SPEC = yaml.safe_load(SPEC_BYTES)
SPEC_URI = "urn:craftkit:openapi"


def test_the_document_is_valid_openapi_3_1() -> None:
    assert str(SPEC["openapi"]).startswith("3.1.")
    errors = [e.message for e in OpenAPIV31SpecValidator(SPEC).iter_errors()]
    assert errors == []
    # ... and Schemathesis, which generates every case from it, reads it without complaint.
    schema = schemathesis.openapi.from_path(ROOT / "openapi.yaml")
    assert [op.ok().label for op in schema.get_all_operations()] == [
        "GET /v1/renders/{id}/engagement"
    ]


def _examples(node: Any, pointer: str = "") -> Iterator[tuple[str, str, Any]]:
    """(schema pointer, example pointer, example) for every example in the document."""
    if isinstance(node, dict):
        if isinstance(node.get("schema"), dict):  # media type or parameter object
            if "example" in node:
                yield f"{pointer}/schema", f"{pointer}/example", node["example"]
            for name, example in node.get("examples", {}).items():
                yield f"{pointer}/schema", f"{pointer}/examples/{name}", example.get("value")
        elif "example" in node and ("type" in node or "properties" in node):  # schema object
            yield pointer, f"{pointer}/example", node["example"]
        for key, value in node.items():
            escaped = str(key).replace("~", "~0").replace("/", "~1")
            yield from _examples(value, f"{pointer}/{escaped}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _examples(value, f"{pointer}/{index}")


EXAMPLES = {where: (schema_at, example) for schema_at, where, example in _examples(SPEC)}


def test_the_walk_finds_every_example() -> None:
    assert sorted(EXAMPLES) == [
        "/components/responses/RenderNotFound/content/application~1json/example",
        "/components/responses/Unauthorized/content/application~1json/example",
        "/components/schemas/Error/example",
        "/paths/~1v1~1renders~1{id}~1engagement/get/responses/200/content/application~1json/example",
    ]


@pytest.mark.parametrize("example_at", sorted(EXAMPLES))
def test_every_example_validates_against_its_own_schema(example_at: str) -> None:
    schema_at, example = EXAMPLES[example_at]
    registry = Registry().with_resource(SPEC_URI, Resource(SPEC, specification=DRAFT202012))
    validator = OAS31Validator(
        {"$ref": f"{SPEC_URI}#{schema_at}"}, registry=registry, format_checker=oas31_format_checker
    )
    assert [e.message for e in validator.iter_errors(example)] == []


def test_a_wrong_example_would_be_caught() -> None:
    schema_at, _ = EXAMPLES["/components/schemas/Error/example"]
    registry = Registry().with_resource(SPEC_URI, Resource(SPEC, specification=DRAFT202012))
    validator = OAS31Validator({"$ref": f"{SPEC_URI}#{schema_at}"}, registry=registry)
    assert list(validator.iter_errors({"error": {"code": 400}}))


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
        return {
            (rule.rule, method)
            for rule in app.app.url_map.iter_rules()
            for method in rule.methods - {"HEAD", "OPTIONS"}
        }


def test_the_app_serves_only_the_specs_paths_and_listed_operational_routes(app: Any) -> None:
    declared = {
        (_as_flask_rule(path), method.upper())
        for path, item in SPEC["paths"].items()
        for method in HTTP_METHODS
        if method in item
    }
    operational = {(route, "GET") for route in OPERATIONAL_ROUTES}
    assert served_routes(app) == declared | operational


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
