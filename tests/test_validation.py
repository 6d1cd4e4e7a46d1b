"""api/openapi/validation.py: 3.1 schema semantics, parameters, and request checks over HTTP."""

from __future__ import annotations

import copy
import datetime
import enum
import math
import uuid
from dataclasses import replace
from typing import Any

import orjson
import pytest
from connexion.exceptions import NonConformingResponseBody
from starlette.testclient import TestClient

from api.assembly import JSONIFIER
from api.openapi.connexion_shim import specifications
from api.openapi.spec import OpenAPI31Specification
from api.openapi.validation import (
    ParameterValidator,
    RequestValidationProblem,
    SchemaCache,
    Validator31,
    coerce_scalar,
    compile_schema,
    remember_written,
    schema_issues,
    validator_map,
)
from api.server.app import create_app
from db.connection import connection, database, is_sqlite
from tests.support import ROOT, assert_envelope, url

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
    return schema_issues(SchemaCache().get(SUMMARY), body, location="body")


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


# --- where jsonschema-rs meets the OpenAPI 3.1 dialect (see api/openapi/validation.py) ----------


def issues_for(schema: dict[str, Any], instance: Any) -> list[dict[str, Any]]:
    return schema_issues(compile_schema(schema), instance, location="body")


def test_oas_keywords_are_annotations_that_assert_nothing():
    annotated = {
        "type": "object",
        "required": ["kind"],
        "properties": {"kind": {"type": "string", "xml": {"attribute": True}}},
        "discriminator": {"propertyName": "kind", "mapping": {"a": "#/nowhere"}},
        "example": {"kind": 5},
        "externalDocs": {"url": "https://example.com"},
        "xml": {"name": "thing"},
    }
    assert issues_for(annotated, {"kind": "b"}) == []
    assert [i["pointer"] for i in issues_for(annotated, {"kind": 5})] == ["/kind"]


@pytest.mark.parametrize(
    ("schema", "good", "bad"),
    [
        ({"type": "integer", "format": "int32"}, 2**31 - 1, 2**31),
        ({"type": "integer", "format": "int32"}, -(2**31), -(2**31) - 1),
        ({"type": "integer", "format": "int64", "minimum": 0}, 2**63 - 1, 2**63),
        ({"type": "integer", "format": "int64", "minimum": 0}, 0, -1),  # its own bound kept
        ({"type": "string", "format": "uuid"}, str(uuid.UUID(int=1)), "nope"),
        ({"type": "string", "format": "date-time"}, "2026-06-21T10:10:00Z", "2026-13-01"),
        ({"type": "string", "format": "uri"}, "https://example.com/x", "no scheme"),
    ],
)
def test_formats_are_asserted_including_oas_integer_ranges(schema, good, bad):
    assert issues_for(schema, good) == []
    assert len(issues_for(schema, bad)) == 1


@pytest.mark.parametrize("fmt", ["float", "double", "password", "made-up"])
def test_formats_that_assert_nothing_beyond_the_type_accept_any_value_of_it(fmt):
    assert (
        issues_for(
            {"type": "number" if fmt in ("float", "double") else "string", "format": fmt},
            7 if fmt in ("float", "double") else "x",
        )
        == []
    )


def test_30s_nullable_means_nothing_in_a_31_schema():
    assert len(issues_for({"type": "string", "nullable": True}, None)) == 1
    assert issues_for({"type": ["string", "null"]}, None) == []


def test_a_value_that_is_not_json_is_an_issue_not_a_crash():
    issues = issues_for({"type": "string"}, b"bytes")
    assert len(issues) == 1 and issues[0]["message"].startswith("not a JSON value")


def test_messages_quote_values_as_json():
    assert issues_for({"type": "integer"}, "abc")[0]["message"] == '"abc" is not of type "integer"'
    assert issues_for({"format": "uuid"}, "x")[0]["message"] == '"x" is not a valid uuid'


def test_annotations_yaml_gave_as_dates_do_not_stop_compiling():
    import datetime

    schema = {"type": "string", "format": "date", "example": datetime.date(2026, 6, 21)}
    assert issues_for(schema, "2026-06-21") == []


def test_30_documents_keep_the_30_dialect():
    nullable = compile_schema({"type": "string", "nullable": True}, oas30=True)
    assert schema_issues(nullable, None, location="body") == []
    assert len(schema_issues(nullable, 5, location="body")) == 1


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


def test_validators_are_compiled_at_start_up_not_per_request(app, client, tenant, make_render):
    cache = specifications(app)[0].schemas
    before = cache.compiled_on_demand
    assert len(cache._entries) == 4
    render = make_render(tenant["project"])
    for _ in range(3):
        assert (
            client.get(f"/v1/renders/{render}/engagement", headers=tenant["headers"]).status_code
            == 200
        )
        assert (
            client.get("/v1/renders/nope/engagement", headers=tenant["headers"]).status_code == 404
        )
    assert cache.compiled_on_demand == before


def test_warm_compiles_every_parameter_and_response_schema():
    spec = OpenAPI31Specification.from_path(ROOT / "openapi.yaml")
    # the id parameter, and the 200, 401 and 404 bodies
    assert SchemaCache().warm(spec) == 4


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
    assert caught.value.issues[0]["message"] == '"nope" is not a valid uuid'
    validator.validate({**scope, "path_params": {"thing_id": str(uuid.UUID(int=7))}})


# --- over HTTP -------------------------------------------------------------------------------

# --- request validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_id", ["notauuid", "123", "5f0c6a52-4d0e-4b8a-9a57-1d3c2e7b9f1", "%20"]
)
def test_a_non_uuid_id_gets_the_404_and_never_reaches_the_database(client, tenant, bad_id):
    """A malformed id names no render: the documented 404, decided by validation alone."""
    # Without the renders table, any query for a render would fail (503): a 404 proves the
    # request stopped at validation.
    with connection():
        database.execute_sql("DROP TABLE render" + ("" if is_sqlite() else " CASCADE"))
    assert_envelope(
        client.get(url(bad_id), headers=tenant["headers"]), 404, "not_found", "Render not found."
    )
    # ... while a valid id does reach it, and fails there (503 on SQLite, 500 on PostgreSQL).
    valid = client.get(url(str(uuid.uuid4())), headers=tenant["headers"])
    assert valid.status_code in (500, 503)
    assert valid.json()["error"]["code"] in ("internal_error", "service_unavailable")


def test_unknown_query_parameters_are_ignored(client, tenant, make_render):
    render = make_render(tenant["project"])
    resp = client.get(url(render) + "?limit=5&expand=all", headers=tenant["headers"])
    assert resp.status_code == 200


def test_strict_query_gets_400_listing_each(settings, tenant, make_render):
    render = make_render(tenant["project"])
    with TestClient(create_app(replace(settings, strict_query=True))) as client:
        resp = client.get(url(render) + "?limit=5&expand=all", headers=tenant["headers"])
        error = assert_envelope(resp, 400, "invalid_request")
        assert [(i["in"], i["name"]) for i in error["issues"]] == [
            ("query", "expand"),
            ("query", "limit"),
        ]
        # Every problem is reported, not just the first: with a bad id too, both are listed.
        resp = client.get(url("nope") + "?x=1", headers=tenant["headers"])
        error = assert_envelope(resp, 400, "invalid_request")
        assert {(i["in"], i["name"]) for i in error["issues"]} == {("query", "x"), ("path", "id")}


# --- response bodies: the value the jsonifier wrote, or the bytes ---------------------------


ORJSON_READINGS = [
    float("nan"),
    float("inf"),
    -float("inf"),
    (1, 2),
    {"a": (1.5, None)},
    {"a": float("nan")},
    enum.Enum("Kind", {"X": "viewed"}).X,
    enum.IntEnum("Small", {"ONE": 1}).ONE,
    enum.StrEnum("Word", {"A": "a"}).A,
    True,
    2**63 - 1,
    1.0,
    -0.0,
    None,
]
MONOTONE_SCHEMAS = [
    {"type": "number"},
    {"type": "null"},
    {"type": ["integer", "null"]},
    {"type": "boolean"},
    {"minimum": 0},
    {"const": None},
    {"type": "string", "enum": ["viewed", "a"]},
    {"type": "array", "items": {"type": "integer"}, "maxItems": 2},
    {"anyOf": [{"type": "null"}, {"type": "object", "additionalProperties": {"type": "array"}}]},
    {"allOf": [{"type": "object"}, {"properties": {"a": {"type": ["array", "number"]}}}]},
]
# Each passes NaN where null fails: the value cannot vouch for its bytes under them.
NOT_MONOTONE_SCHEMAS = [
    {"not": {"type": "null"}},
    {"oneOf": [{"type": "null"}, {"not": {"type": "string"}}]},
    {"if": {"type": "null"}, "then": False},
    {"type": "array", "contains": {"type": "null"}, "minContains": 0, "maxContains": 0},
    {"properties": {"a": {"not": {"const": None}}}},
    {"type": "array", "uniqueItems": True},
]


@pytest.mark.parametrize("value", ORJSON_READINGS, ids=repr)
def test_a_value_that_passes_as_written_means_its_bytes_pass(value):
    """What lets a response be checked as the value it was written from. A jsonschema-rs or
    orjson release that reads or writes any of these differently fails here."""
    written = orjson.loads(orjson.dumps(value))
    for schema in MONOTONE_SCHEMAS:
        validator = compile_schema(schema)
        assert isinstance(validator, Validator31)
        if validator.passes_as_written(value):
            assert list(validator.iter_errors(written)) == [], schema
        if _finite(value):  # the same verdict either way
            assert validator.passes_as_written(value) == (not list(validator.iter_errors(written)))


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(map(_finite, value.values()))
    if isinstance(value, list | tuple):
        return all(map(_finite, value))
    return True


def test_a_non_finite_number_passes_where_its_null_would_not_so_such_schemas_parse():
    """jsonschema-rs reads NaN as a number of no JSON type; orjson writes it as null."""
    for schema in NOT_MONOTONE_SCHEMAS:
        validator = compile_schema(schema)
        assert isinstance(validator, Validator31)
        value: Any = [float("nan")] if schema.get("type") == "array" else float("nan")
        if "properties" in schema:
            value = {"a": float("nan")}
        if schema.get("uniqueItems"):
            value = [float("nan"), None]  # two items here, null twice once written
        assert validator._compiled.is_valid(value), "jsonschema-rs passes NaN here"
        assert list(validator.iter_errors(orjson.loads(orjson.dumps(value)))), "null fails"
        assert not validator.passes_as_written(value)
        assert not validator.passes_as_written({"plain": "json"})  # never, under such a schema


TEXT_ORJSON_WRITES = [
    datetime.datetime(2026, 12, 5, 1, 2, 3, tzinfo=datetime.UTC),
    datetime.date(2026, 12, 5),
    datetime.time(1, 2, 3),
    uuid.UUID("5f0c6a52-4d0e-4b8a-9a57-1d3c2e7b9f10"),
]
TEXT_SCHEMAS = [
    {"type": "string"},
    {"type": "string", "maxLength": 4},
    {"maxLength": 4},  # jsonschema-rs skips the value as no string, passing it
    {"minLength": 100},
    {"pattern": "^x"},
    {"format": "date"},
    {"enum": ["x"]},
    {},
    {"properties": {"a": {"type": "integer"}}},
]


@pytest.mark.parametrize("value", TEXT_ORJSON_WRITES, ids=repr)
def test_a_value_orjson_writes_as_text_never_vouches_for_failing_bytes(value):
    """jsonschema-rs cannot take these (it raises where a keyword reads one, lazily below the
    top level); orjson writes them as strings. Whatever the schema, the value passing must
    mean the written string passes."""
    for inner in TEXT_SCHEMAS:
        schema = {"properties": {"a": inner}}
        validator = compile_schema(schema)
        assert isinstance(validator, Validator31)
        if validator.passes_as_written({"a": value}):
            assert list(validator.iter_errors({"a": str(orjson.loads(orjson.dumps(value)))})) == []
    lengths = compile_schema({"properties": {"a": {"maxLength": 4}}})
    assert isinstance(lengths, Validator31)
    assert lengths._compiled.is_valid({"a": value}), "skipped as no string: why lengths need type"
    assert not lengths.passes_as_written({"a": value})


def _response_check(schema: dict[str, Any]) -> Any:
    cls = validator_map(SchemaCache())["response"]["application/json"]
    return cls({"type": "http"}, schema=schema, nullable=False, encoding="utf-8")


def _checked(schema: dict[str, Any], body: bytes) -> bool:
    """Whether `body` passes the app's JSON response check (as ResponseChecks runs it)."""
    validator = _response_check(schema)
    try:
        validator.check(validator.parse(body), schema=schema, operation_id=None)
    except NonConformingResponseBody:
        return False
    return True


def test_a_body_the_jsonifier_wrote_passes_on_its_value():
    """The value is what vouches for the bytes: shown by a value that is not what the bytes
    say (which the jsonifier never makes); the same bytes alone fail."""
    schema = {"type": "object", "properties": {"total": {"type": "integer"}}}
    body = orjson.dumps({"total": "one"})
    remember_written(body, {"total": 1})
    assert _checked(schema, body)
    assert not _checked(schema, body), "a remembered value is taken once"


def test_a_value_that_fails_is_judged_by_its_bytes():
    schema = {"type": "object", "properties": {"total": {"type": "integer"}}}
    body = orjson.dumps({"total": 1})
    remember_written(body, {"total": "one"})
    assert _checked(schema, body)


def test_bytes_not_written_by_the_jsonifier_are_parsed():
    """Only the very bytes written vouch: an equal copy made elsewhere is parsed."""
    schema = {"type": "object", "properties": {"total": {"type": "integer"}}}
    written = orjson.dumps({"total": "one"})
    remember_written(written, {"total": 1})
    copy = orjson.dumps({"total": "one"})
    assert copy == written and copy is not written
    assert not _checked(schema, copy)


@pytest.mark.parametrize(
    ("schema", "passes"),
    [
        ({"type": "object", "properties": {"at": {"type": "string", "format": "date-time"}}}, True),
        ({"type": "object", "properties": {"at": {"type": "integer"}}}, False),
    ],
)
def test_a_value_the_validator_cannot_take_is_checked_as_the_bytes_sent(schema, passes):
    """orjson writes a datetime as RFC 3339 text; jsonschema-rs refuses the datetime itself,
    so the check falls back to the bytes, and judges what the client gets."""
    body = JSONIFIER.dumps({"at": datetime.datetime(2026, 12, 5, 1, 2, 3, tzinfo=datetime.UTC)})
    assert _checked(schema, body) is passes
    assert _checked(schema, orjson.dumps({"at": "2026-12-05T01:02:03+00:00"})) is passes


def test_the_30_dialect_checks_the_bytes():
    """OpenAPI 3.0's validator (Python's jsonschema) reads a tuple as no array, unlike
    orjson's bytes: it is given the bytes."""
    schema = {"type": "array"}
    assert list(compile_schema(schema, oas30=True).iter_errors((1, 2))), "a tuple is no array"
    cls = validator_map(SchemaCache())["response"]["application/json"]
    check = cls({"type": "http"}, schema=schema, nullable=False, encoding="utf-8")
    check.compiled = lambda _schema: compile_schema(schema, oas30=True)  # a 3.0 document's
    body = JSONIFIER.dumps((1, 2))
    check.check(check.parse(body), schema=schema, operation_id=None)  # a list once parsed: no 500


def test_a_nan_the_value_cannot_vouch_for_is_judged_by_its_bytes():
    assert not _checked({"not": {"type": "null"}}, JSONIFIER.dumps(float("nan")))
    assert _checked({"type": ["integer", "null"]}, JSONIFIER.dumps(float("nan")))


def test_a_top_level_nan_is_the_null_a_nullable_answer_may_be():
    """ResponseChecks skips a null body of a nullable answer; NaN is written as that null."""
    cls = validator_map(SchemaCache())["response"]["application/json"]
    check = cls({"type": "http"}, schema={"type": "integer"}, nullable=True, encoding="utf-8")
    body = JSONIFIER.dumps(float("nan"))
    check.check(check.parse(body), schema={"type": "integer"}, operation_id=None)  # no 500
