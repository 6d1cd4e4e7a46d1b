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
from api.app import create_app
from api.config import Settings
from api.openapi.spec import OpenAPI31Specification, add_api
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


def test_add_api_refuses_a_started_app(tmp_path):
    app = connexion.FlaskApp(__name__)
    spec = OpenAPI31Specification.from_path(ROOT / "openapi.yaml")
    errors.register(app)
    with TestClient(app), pytest.raises(RuntimeError):
        add_api(app, spec)
