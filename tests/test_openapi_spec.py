"""The OpenAPI 3.1 adapter: document checks at start-up, 2020-12 validators, compiled once."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import connexion
import pytest
import yaml
from connexion.exceptions import InvalidSpecification
from starlette.testclient import TestClient

from api import errors
from api.config import Settings
from api.openapi.spec import OpenAPI31Specification, add_api
from api.server.app import create_app
from tests.support import ROOT

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
            "document at #/paths/~1v1~1renders~1{id}~1engagement/get/responses: "
            '[] is not of type "object"',
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


SPECS = ROOT / "tests" / "data" / "specs"


@pytest.mark.parametrize(
    "name",
    [
        "oai-3.2-tags-example.yaml",
        "oai-3.2-query-example.yaml",
        "oai-3.2-path-item-object-example.yaml",
        "oai-3.2-mega.yaml",
    ],
)
def test_32_documents_load(name):
    spec = OpenAPI31Specification.from_path(SPECS / name)
    assert spec.is_32 and spec.is_31  # 2020-12 semantics, as in 3.1
    assert spec.schemas.oas30 is False


def test_32_query_and_additional_operations_are_walked():
    spec = OpenAPI31Specification.from_path(SPECS / "oai-3.2-path-item-object-example.yaml")
    assert [(p, m, op["operationId"]) for p, m, op in spec.operations()] == [
        ("/pets/{id}", "get", "getPetsById"),
        ("/pets/{id}", "query", "queryPetsById"),
        ("/pets/{id}", "copy", "copyPetsById"),
    ]


def test_a_31_document_has_no_query_operation(tmp_path):
    """`query` is a 3.2 field: in an older document it is not an operation."""
    document = load()
    document["paths"]["/v1/renders/{id}/engagement"]["x-query"] = {}
    spec = OpenAPI31Specification.from_path(write(tmp_path, document))
    assert {m for _p, m, _o in spec.operations()} <= {"get", "post", "put", "delete", "patch"}


def test_unquoted_dates_stay_the_strings_written():
    """YAML 1.1 loads `2026-06-15` as a date: JSON Schema and JSON output want the string."""
    spec = OpenAPI31Specification.from_path(SPECS / "oai-3.2-query-example.yaml")
    body = spec.raw["paths"]["/flights/search"]["query"]["requestBody"]
    date = body["content"]["application/json"]["schema"]["properties"]["departureDate"]
    assert date["example"] == "2026-06-15"
    flights = spec.raw["paths"]["/flights/search"]["query"]["responses"]["200"]["content"]
    item = flights["application/json"]["schema"]["properties"]["flights"]["items"]
    assert item["properties"]["departureTime"]["example"] == "2026-06-15T22:30:00Z"
    # The stock loader does not: this is what the loader changes.
    stock = yaml.safe_load((SPECS / "oai-3.2-query-example.yaml").read_text())
    stock_body = stock["paths"]["/flights/search"]["query"]["requestBody"]
    stock_date = stock_body["content"]["application/json"]["schema"]["properties"]
    assert not isinstance(stock_date["departureDate"]["example"], str)


def test_a_dangling_ref_names_where_it_sits(tmp_path):
    document = load()
    operation = document["paths"]["/v1/renders/{id}/engagement"]["get"]
    operation["responses"]["200"]["content"]["application/json"]["schema"] = {
        "$ref": "#/components/schemas/Nope"
    }
    with pytest.raises(InvalidSpecification) as caught:
        OpenAPI31Specification.from_path(write(tmp_path, document))
    message = str(caught.value.message)
    assert message == (
        "Invalid OpenAPI 3.1.0 document at #/paths/~1v1~1renders~1{id}~1engagement/get/"
        "responses/200/content/application~1json/schema: "
        "$ref '#/components/schemas/Nope' points to nothing"
    )
    assert len(message) < 300  # not the whole document


def test_an_unknown_version_is_refused_naming_those_supported(tmp_path):
    document = load()
    document["openapi"] = "3.3.0"
    with pytest.raises(InvalidSpecification, match=r"expected 3\.2\.x, 3\.1\.x or 3\.0\.x"):
        OpenAPI31Specification.from_path(write(tmp_path, document))


def test_the_document_is_not_templated(tmp_path):
    """Connexion renders specs through Jinja2; a 3.1 document is used exactly as written."""
    document = load()
    document["info"]["description"] = "Use {{ braces }} literally"
    spec = OpenAPI31Specification.from_path(write(tmp_path, document))
    assert spec.raw["info"]["description"] == "Use {{ braces }} literally"


def test_add_api_refuses_a_started_app(tmp_path):
    app = connexion.FlaskApp(__name__)
    spec = OpenAPI31Specification.from_path(ROOT / "openapi.yaml")
    errors.register(app)
    with TestClient(app), pytest.raises(RuntimeError):
        add_api(app, spec)
