"""Every operation of every corpus spec (tests/data/specs/) called on the mock as a browser
frontend calls it, through the spec's base path and at the root: the preflight is allowed, the
status and media type are documented, the body is valid against its schema, the answer
carries CORS headers (the checks are in tests/mock_checks.py, shared with
`make mock-compare`, which runs them against Prism too).

In process (Starlette's TestClient on the ASGI app): the whole corpus takes seconds.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml
from starlette.testclient import TestClient

from api.mock import MockOptions, create_mock_app
from api.openapi.spec import OpenAPI31Specification
from tests import mock_checks
from tests.support import ROOT

SPECS = ROOT / "tests" / "data" / "specs"
MANIFEST = yaml.safe_load((SPECS / "manifest.yaml").read_text())
FILES = [entry["file"] for entry in MANIFEST["specs"]]


def run_corpus_spec(path: Path) -> list[mock_checks.Result]:
    spec = OpenAPI31Specification.from_path(path)
    client = TestClient(create_mock_app(MockOptions(spec_path=str(path))))
    return mock_checks.run(spec, client)


@pytest.mark.parametrize("name", FILES)
def test_every_operation_works_from_a_browser(name: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)  # Twilio's 115 invalid examples are warned about at start
    results = run_corpus_spec(SPECS / name)
    failures = [
        f"{r.call.operation} via {r.call.via}: {check}: {why}"
        for r in results
        for check, why in r.failures.items()
    ]
    assert not failures, "\n".join(failures)
    operations = sum(1 for _ in OpenAPI31Specification.from_path(SPECS / name).operations())
    vias = {r.call.via for r in results}
    assert len(results) == operations * len(vias)


def test_the_corpus_is_what_the_issue_asks_for() -> None:
    """At least 12 specs, and the kinds issue 17 names among them."""
    features = {f for entry in MANIFEST["specs"] for f in entry["features"]}
    assert len(FILES) >= 12
    wanted = {"oas30", "oas31", "oas32", "base_path", "server_variables", "problem_json"}
    wanted |= {"form_body", "basic_auth", "large"}
    assert wanted <= features
    assert all(entry.get("licence") for entry in MANIFEST["specs"])


def test_the_checks_fail_on_a_mock_that_breaks_them(tmp_path: Path) -> None:
    """The checks can fail: against a document edited after the mock loaded it (another
    status, another media type, another schema), every one of them reports its failure."""
    source = SPECS / "oai-3.0-petstore.yaml"
    served = tmp_path / "served.yaml"
    served.write_bytes(source.read_bytes())
    client = TestClient(create_mock_app(MockOptions(spec_path=str(served), base_path="/")))
    document = yaml.safe_load(source.read_text())
    listed = document["paths"]["/pets"]["get"]["responses"]
    listed["200"]["content"]["application/json"]["schema"] = {"type": "string"}
    show = document["paths"]["/pets/{petId}"]["get"]["responses"]
    show["200"]["content"] = {"application/xml": show["200"]["content"]["application/json"]}
    document["paths"]["/pets"]["post"]["responses"] = {"202": {"description": "accepted"}}
    expected = tmp_path / "expected.yaml"
    expected.write_text(yaml.safe_dump(document))
    spec = OpenAPI31Specification.from_path(expected)
    results = {r.call.operation + " " + r.call.via: r for r in mock_checks.run(spec, client)}
    assert set(results["GET /pets base path"].failures) == {"preflight", "status"}  # served at /
    assert set(results["GET /pets root"].failures) == {"body"}
    assert set(results["GET /pets/{petId} root"].failures) == {"media type"}
    assert set(results["POST /pets root"].failures) == {"status"}
    assert all(r.call.headers["Origin"] == mock_checks.ORIGIN for r in results.values())


def test_the_cors_checks_fail_for_an_origin_the_mock_refuses() -> None:
    path = SPECS / "oai-3.0-petstore.yaml"
    options = MockOptions(spec_path=str(path), cors_origins=("http://other.example",))
    client = TestClient(create_mock_app(options))
    results = mock_checks.run(OpenAPI31Specification.from_path(path), client)
    assert results and all(set(r.failures) == {"preflight", "cors"} for r in results)
