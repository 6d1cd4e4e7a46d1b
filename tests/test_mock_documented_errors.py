"""`documented_error`: the mock's errors in the shape the served spec documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from api.mock.documented_errors import documented_error, fill, response_for
from api.openapi.spec import OpenAPI31Specification
from tests.support import ROOT

SPECS = ROOT / "tests" / "data" / "specs"


def spec_at(name: str) -> OpenAPI31Specification:
    return OpenAPI31Specification.from_path(SPECS / name)


def write(tmp_path: Path, document: dict[str, Any]) -> OpenAPI31Specification:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(document))
    return OpenAPI31Specification.from_path(path)


def valid(spec: OpenAPI31Specification, schema: Any, body: Any) -> list[str]:
    return [e.message for e in spec.schemas.get(schema).iter_errors(body)]


def test_problem_json_of_the_museum() -> None:
    spec = spec_at("redocly-museum.yaml")
    operation = spec.spec["paths"]["/special-events/{eventId}"]["get"]
    found = documented_error(spec, operation, 404, "No such event.")
    assert found is not None
    status, media_type, body, headers = found
    assert (status, media_type, headers) == (404, "application/problem+json", {})
    schema = operation["responses"]["404"]["content"]["application/problem+json"]["schema"]
    document = json.loads(body)
    assert valid(spec, schema, document) == []
    assert document["title"] == "No such event."  # the schema's only text field


def test_default_response_with_code_and_message() -> None:
    """petstore-expanded documents errors only as `default`: Error {code int32, message}."""
    spec = spec_at("oai-3.0-petstore-expanded.yaml")
    operation = spec.spec["paths"]["/pets/{id}"]["get"]
    found = documented_error(spec, operation, 404, "No pet 7.")
    assert found is not None
    status, media_type, body, _headers = found
    assert (status, media_type) == (404, "application/json")
    schema = operation["responses"]["default"]["content"]["application/json"]["schema"]
    assert json.loads(body) == {"code": 404, "message": "No pet 7."}
    assert valid(spec, schema, json.loads(body)) == []


def test_text_html_error_is_the_message() -> None:
    spec = spec_at("oai-3.1-tictactoe.yaml")
    operation = spec.spec["paths"]["/board/{row}/{column}"]["get"]
    assert documented_error(spec, operation, 400, "row: 9 is more than 3") == (
        400,
        "text/html",
        b"row: 9 is more than 3",
        {},
    )


def test_nothing_documented_is_none() -> None:
    spec = spec_at("swagger-petstore3.yaml")
    operation = spec.spec["paths"]["/pet/{petId}"]["get"]
    assert "400" in operation["responses"]  # documented, but without content
    assert documented_error(spec, operation, 400, "bad") is None
    assert documented_error(spec, operation, 415, "bad") is None  # not documented at all
    assert documented_error(spec, {"responses": {}}, 404, "bad") is None


def test_range_then_default(tmp_path: Path) -> None:
    content = {"application/json": {"schema": {"type": "object"}}}
    responses = {"200": {}, "4XX": {"content": content}, "default": {"x": 1}}
    assert response_for(responses, 404) is responses["4XX"]
    assert response_for(responses, 503) is responses["default"]
    assert response_for({"4xx": 1}, 401) == 1
    assert response_for({"200": {}}, 401) is None


def document_with(error_media: dict[str, Any]) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/a": {
                "get": {
                    "responses": {
                        "200": {"description": "ok"},
                        "4XX": {
                            "description": "error",
                            "headers": {"X-Trace": {"schema": {"type": "string"}, "example": "t1"}},
                            "content": error_media,
                        },
                    }
                }
            }
        },
    }


def test_the_example_is_used_and_filled(tmp_path: Path) -> None:
    schema = {
        "type": "object",
        "required": ["type", "detail"],
        "properties": {
            "type": {"type": "string"},
            "detail": {"type": "string"},
            "status": {"type": "integer"},
            "errors": {"type": "array", "items": {"type": "object"}},
        },
        "additionalProperties": False,
    }
    example = {"type": "about:blank", "detail": "written", "status": 400, "errors": []}
    spec = write(
        tmp_path,
        document_with({"application/problem+json": {"schema": schema, "example": example}}),
    )
    issues = [{"in": "query", "name": "x", "message": "bad"}]
    found = documented_error(spec, spec.spec["paths"]["/a"]["get"], 422, "x is bad", issues)
    assert found is not None
    status, media_type, body, headers = found
    assert (status, media_type, headers) == (422, "application/problem+json", {"X-Trace": "t1"})
    assert json.loads(body) == {
        "type": "about:blank",
        "detail": "x is bad",
        "status": 422,
        "errors": issues,
    }


def test_an_invalid_example_is_never_sent_and_a_fill_that_breaks_the_schema_is_undone(
    tmp_path: Path,
) -> None:
    schema = {
        "type": "object",
        "required": ["message"],
        "properties": {"message": {"type": "string", "enum": ["Bad request"]}},
    }
    media = {"application/json": {"schema": schema, "example": {"message": 7}}}
    spec = write(tmp_path, document_with(media))
    found = documented_error(spec, spec.spec["paths"]["/a"]["get"], 400, "something else")
    assert found is not None
    body = json.loads(found[2])
    assert body == {"message": "Bad request"}  # generated; the message does not fit the enum


def test_fill_leaves_undeclared_fields_alone() -> None:
    schema = {"type": "object", "properties": {"code": {"type": "integer"}}}
    assert fill({"code": 1}, schema, "m", 404, None, lambda _v: True) == {"code": 404}
    nested = {"error": {"message": "x"}}
    assert fill(nested, {}, "m", 404, None, lambda _v: True) == {"error": {"message": "m"}}
    assert nested == {"error": {"message": "x"}}  # the example itself is not changed
