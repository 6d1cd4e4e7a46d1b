"""The OpenAPI 3.1 adapter: document checks at start-up, 2020-12 validators, compiled once."""

from __future__ import annotations

import copy
import hashlib
import uuid
from pathlib import Path
from typing import Any

import connexion
import pytest
import yaml
from connexion.exceptions import InvalidSpecification
from starlette.testclient import TestClient

from api import errors
from api.app import create_app
from api.config import Settings
from api.openapi31 import (
    OpenAPI31Specification,
    ParameterValidator,
    RequestValidationProblem,
    SchemaCache,
    add_api,
    coerce_scalar,
    schema_issues,
)
from tests.conftest import ROOT

SHARED_SPEC = ROOT.parent / "shared" / "spec" / "openapi.yaml"
CONTRACT_SHA256 = "2b7400b1becd12a5a1cd3c64c53c6af0ff3920a564cfb1b86162f7f90fa6b58c"


def load() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "openapi.yaml").read_text())


def write(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


# --- the document ---------------------------------------------------------------------------


def test_the_spec_is_the_contract_byte_for_byte():
    ours = hashlib.sha256((ROOT / "openapi.yaml").read_bytes()).hexdigest()
    assert ours == CONTRACT_SHA256
    if SHARED_SPEC.exists():
        assert hashlib.sha256(SHARED_SPEC.read_bytes()).hexdigest() == ours


def test_stock_connexion_refuses_the_document_and_ours_loads_it():
    with pytest.raises(InvalidSpecification, match="does not match"):
        connexion.FlaskApp(__name__).add_api(ROOT / "openapi.yaml")
    spec = OpenAPI31Specification.from_path(ROOT / "openapi.yaml")
    assert spec.raw == load()
    assert spec.is_31


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.update(openapi="2.0"), "openapi: 2.0 is not supported"),
        (lambda d: d.pop("info"), '"info" is a required property'),
        (
            lambda d: d["components"]["schemas"]["EngagementSummary"].update(type="objekt"),
            "'objekt' is not valid",
        ),
        (
            lambda d: d["paths"]["/v1/renders/{id}/engagement"]["get"].update(responses=[]),
            '[] is not of type "object" (at paths > /v1/renders/{id}/engagement > get > responses)',
        ),
    ],
)
def test_a_broken_document_fails_start_up_with_a_readable_message(tmp_path, mutate, expected):
    document = load()
    mutate(document)
    path = write(tmp_path, document)
    with pytest.raises(InvalidSpecification) as caught:
        create_app(Settings.from_env({}, spec_path=str(path), database_url="sqlite:///:memory:"))
    assert expected in str(caught.value.message)


def test_a_30_document_still_loads(tmp_path):
    document = load()
    document["openapi"] = "3.0.3"
    items = document["components"]["schemas"]["EngagementSummary"]["properties"]["recent"]
    for name in ("shareId", "sourceIp", "userAgent"):
        items["items"]["properties"][name] = {"type": "string", "nullable": True}
    assert not OpenAPI31Specification.from_path(write(tmp_path, document)).is_31


def test_the_document_is_not_templated(tmp_path):
    """Connexion renders specs through Jinja2; a 3.1 document is used exactly as written."""
    document = load()
    document["info"]["description"] = "Use {{ braces }} literally"
    spec = OpenAPI31Specification.from_path(write(tmp_path, document))
    assert spec.raw["info"]["description"] == "Use {{ braces }} literally"


# --- schema semantics -----------------------------------------------------------------------


SUMMARY = OpenAPI31Specification.from_path(ROOT / "openapi.yaml").spec["components"]["schemas"][
    "EngagementSummary"
]
GOOD_ITEM = {
    "id": "ev_1",
    "eventType": "viewed",
    "actorKind": "recipient",
    "shareId": None,
    "sourceIp": None,
    "userAgent": None,
    "metadata": {"any": ["json", 1]},
    "createdAt": "2026-06-21T10:10:00.000Z",
}
GOOD = {"counts": {"viewed": 1}, "linkOpens": 0, "total": 1, "recent": [GOOD_ITEM]}


def summary_issues(body: dict[str, Any]) -> list[dict[str, Any]]:
    return schema_issues(SchemaCache.get(SUMMARY), body, location="body")


def with_item(**fields: Any) -> dict[str, Any]:
    body = copy.deepcopy(GOOD)
    body["recent"][0].update(fields)
    return body


def test_a_conforming_summary_has_no_issues():
    assert summary_issues(GOOD) == []


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        (with_item(shareId=5), "/recent/0/shareId"),  # type: [string, 'null']
        (with_item(createdAt="yesterday"), "/recent/0/createdAt"),  # format: date-time
        (with_item(eventType="teleported"), "/recent/0/eventType"),  # enum via $ref
        (with_item(actorKind=None), "/recent/0/actorKind"),
        ({**GOOD, "counts": {"viewed": "1"}}, "/counts/viewed"),  # additionalProperties
        ({**GOOD, "total": 1.5}, "/total"),
    ],
)
def test_31_keywords_are_enforced(body, pointer):
    issues = summary_issues(body)
    assert {i["pointer"] for i in issues} == {pointer}


def test_null_is_allowed_where_the_31_type_list_says_so():
    assert summary_issues(with_item(shareId=None, sourceIp="203.0.113.4", metadata=None)) == []


def test_every_error_is_collected():
    body = with_item(shareId=5, createdAt="never", eventType="x")
    del body["linkOpens"]
    assert {i["pointer"] for i in summary_issues(body)} == {
        "/",
        "/recent/0/shareId",
        "/recent/0/createdAt",
        "/recent/0/eventType",
    }


@pytest.mark.parametrize(
    ("raw", "schema", "expected"),
    [
        ("42", {"type": "integer"}, 42),
        ("42", {"type": ["integer", "null"]}, 42),
        ("", {"type": ["integer", "null"]}, None),
        ("4.5", {"type": "number"}, 4.5),
        ("true", {"type": "boolean"}, True),
        ("abc", {"type": "integer"}, "abc"),  # left for the schema check to report
        ("abc", {"type": "string", "format": "uuid"}, "abc"),
    ],
)
def test_parameters_are_coerced_by_their_31_type(raw, schema, expected):
    assert coerce_scalar(raw, schema) == expected


def test_parameter_validator_reports_missing_and_invalid_parameters_together():
    params = [
        {
            "name": "id",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "format": "uuid"},
        },
        {"name": "n", "in": "query", "required": True, "schema": {"type": ["integer", "null"]}},
    ]
    validator = ParameterValidator(params, uri_parser=None, strict_validation=True)
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/x",
        "query_string": b"extra=1",
        "headers": [],
        "path_params": {"id": "nope"},
    }
    with pytest.raises(RequestValidationProblem) as caught:
        validator.validate(scope)
    assert {(i["in"], i["name"]) for i in caught.value.issues} == {
        ("query", "extra"),
        ("query", "n"),
        ("path", "id"),
    }
    ok_scope = {
        **scope,
        "query_string": b"n=3",
        "path_params": {"id": GOOD_ITEM["shareId"] or "9a8b7c6d-5e4f-3a2b-1c0d-9e8f7a6b5c4d"},
    }
    validator.validate(ok_scope)  # no exception


# --- compiled once --------------------------------------------------------------------------


def test_validators_are_compiled_at_start_up_not_per_request(client, tenant, make_render):
    before = SchemaCache.compiled_on_demand
    render = make_render(tenant["project"])
    for _ in range(3):
        assert (
            client.get(f"/v1/renders/{render}/engagement", headers=tenant["headers"]).status_code
            == 200
        )
        assert (
            client.get("/v1/renders/nope/engagement", headers=tenant["headers"]).status_code == 400
        )
    assert SchemaCache.compiled_on_demand == before


def test_warm_compiles_every_parameter_and_response_schema():
    spec = OpenAPI31Specification.from_path(ROOT / "openapi.yaml")
    # the id parameter, and the 200, 401 and 404 bodies
    assert SchemaCache.warm(spec) == 4


def test_add_api_refuses_a_started_app(tmp_path):
    app = connexion.FlaskApp(__name__)
    spec = OpenAPI31Specification.from_path(ROOT / "openapi.yaml")
    errors.register(app)
    with TestClient(app), pytest.raises(RuntimeError):
        add_api(app, spec)


def test_hyphenated_path_parameters_are_found_where_connexion_routes_them():
    """Connexion routes `{thing-id}` as `{thing_id}`; the parameter is still read and checked."""
    params = [
        {
            "name": "thing-id",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "format": "uuid"},
        }
    ]
    validator = ParameterValidator(params, uri_parser=None, strict_validation=True)
    scope = {"type": "http", "method": "GET", "path": "/x", "query_string": b"", "headers": []}
    with pytest.raises(RequestValidationProblem) as caught:
        validator.validate({**scope, "path_params": {"thing_id": "nope"}})
    assert caught.value.issues[0]["message"] == "'nope' is not a valid uuid"
    validator.validate({**scope, "path_params": {"thing_id": str(uuid.UUID(int=7))}})
