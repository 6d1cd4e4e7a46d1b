"""The mock on other teams' specs (tests/data/specs/): base paths, the document and UI under
them, CORS per path, errors in the spec's own shape, `Allow` on 405.

Expected values are read from the spec files, never written out here.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient

from api.mock import MockOptions, create_mock_app
from api.openapi.spec import OpenAPI31Specification
from tests.support import ROOT, assert_envelope

SPECS = ROOT / "tests" / "data" / "specs"
PETSTORE = SPECS / "oai-3.0-petstore.yaml"  # servers: http://petstore.swagger.io/v1
EXPANDED = SPECS / "oai-3.0-petstore-expanded.yaml"  # /v2; errors only as `default`
MUSEUM = SPECS / "redocly-museum.yaml"  # problem+json errors; global HTTP basic
USPTO = SPECS / "oai-3.0-uspto.yaml"  # '{scheme}://developer.uspto.gov/ds-api'
ORIGIN = "http://localhost:5173"
BASIC = {"Authorization": "Basic " + base64.b64encode(b"ann:secret").decode()}


@pytest.fixture
def mock() -> Callable[..., TestClient]:
    def make(spec: Path, **options: Any) -> TestClient:
        return TestClient(create_mock_app(MockOptions(spec_path=str(spec), **options)))

    return make


def resolved(path: Path) -> dict[str, Any]:
    return OpenAPI31Specification.from_path(path).spec


def valid(path: Path, schema: Any, value: Any) -> list[str]:
    spec = OpenAPI31Specification.from_path(path)
    return [e.message for e in spec.schemas.get(schema).iter_errors(value)]


# --- base paths -------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/v1", ""])
def test_operations_answer_under_the_base_path_and_at_the_root(
    mock: Callable[..., TestClient], prefix: str
) -> None:
    client = mock(PETSTORE)
    assert client.get(f"{prefix}/pets").status_code == 200
    assert client.get(f"{prefix}/pets/7").status_code == 200
    assert_envelope(client.get(f"{prefix}/nothing"), 404, "not_found")


def test_a_server_variable_base_path(mock: Callable[..., TestClient]) -> None:
    client = mock(USPTO)
    assert client.get("/ds-api/").status_code == 200
    assert client.get("/ds-api").status_code == 200  # the base path itself is `/`
    assert client.get("/").status_code == 200
    assert_envelope(client.get("/https:/"), 404, "not_found")


@pytest.mark.parametrize("prefix", ["/v1", ""])
def test_the_document_and_the_ui_answer_under_the_base_path_and_at_the_root(
    mock: Callable[..., TestClient], prefix: str
) -> None:
    client = mock(PETSTORE)
    assert client.get(f"{prefix}/openapi.yaml").content == PETSTORE.read_bytes()
    assert client.get(f"{prefix}/openapi.json").json() == yaml.safe_load(PETSTORE.read_text())
    for page in ("/ui", "/docs"):
        resp = client.get(prefix + page)
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
        # Its document and assets are fetched under the same prefix; "Try it out" calls it.
        assert f'fetch("{prefix}/openapi.json")' in resp.text
        assert f'href="{prefix}/ui/swagger-ui.css"' in resp.text
    assert client.get(f"{prefix}/ui/swagger-ui.css").status_code == 200


def test_base_path_option_overrides_the_servers(mock: Callable[..., TestClient]) -> None:
    moved = mock(PETSTORE, base_path="/api/")
    assert moved.get("/api/pets").status_code == 200
    assert moved.get("/pets").status_code == 200
    assert_envelope(moved.get("/v1/pets"), 404, "not_found")
    root = mock(PETSTORE, base_path="/")
    assert root.get("/pets").status_code == 200
    assert_envelope(root.get("/v1/pets"), 404, "not_found")


def test_the_root_is_not_served_when_that_is_ambiguous(
    mock: Callable[..., TestClient], tmp_path: Path
) -> None:
    """A spec path under the base path itself: `/api/x` could be `/x` under `/api`."""
    document = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "servers": [{"url": "https://h.example/api"}],
        "paths": {"/api/x": {"get": {"responses": {"200": {"description": "ok"}}}}},
    }
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(document))
    client = mock(spec)
    assert client.get("/api/api/x").status_code == 200
    assert_envelope(client.get("/api/x"), 404, "not_found")
    assert client.get("/openapi.json").status_code == 200  # the document: both ways still


# --- CORS -------------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/v2", ""])
def test_preflights_allow_the_paths_declared_methods(
    mock: Callable[..., TestClient], prefix: str
) -> None:
    client = mock(EXPANDED)
    declared = [m.upper() for m in yaml.safe_load(EXPANDED.read_text())["paths"]["/pets/{id}"]]
    assert set(declared) == {"GET", "DELETE"}
    for method in declared:
        resp = client.options(
            f"{prefix}/pets/7",
            headers={"Origin": ORIGIN, "Access-Control-Request-Method": method},
        )
        assert resp.status_code == 200, resp.text
        listed = resp.headers["access-control-allow-methods"].split(", ")
        assert set(listed) == {*declared, "HEAD", "OPTIONS"}
    refused = client.options(
        f"{prefix}/pets/7", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "PUT"}
    )
    assert "method 'PUT' is not declared" in assert_envelope(refused, 403, "forbidden")["message"]


def test_preflights_allow_the_headers_the_spec_uses(mock: Callable[..., TestClient]) -> None:
    """Museum's operations use HTTP basic: Authorization is allowed; an unknown header is not."""
    client = mock(MUSEUM)
    ask = {"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
    path = "/_mock/docs/openapi/museum-api/museum-hours"
    resp = client.options(path, headers={**ask, "Access-Control-Request-Headers": "authorization"})
    assert resp.status_code == 200
    assert "authorization" in resp.headers["access-control-allow-headers"].split(", ")
    refused = client.options(
        path, headers={**ask, "Access-Control-Request-Headers": "authorization, x-debug"}
    )
    error = assert_envelope(refused, 403, "forbidden")
    assert "headers not allowed: x-debug" in error["message"]


# --- errors in the spec's shape ---------------------------------------------------------------


def test_a_405_lists_the_paths_methods_in_the_documented_shape(
    mock: Callable[..., TestClient],
) -> None:
    """petstore-expanded's /pets/{id} declares GET and DELETE; its errors are `default` Error."""
    resp = mock(EXPANDED).put("/v2/pets/7", headers={"Origin": ORIGIN})
    assert resp.status_code == 405
    assert resp.headers["allow"] == "GET, HEAD, DELETE"
    assert resp.headers["content-type"] == "application/json"
    assert resp.headers["access-control-allow-origin"] == "*"
    operation = resolved(EXPANDED)["paths"]["/pets/{id}"]["get"]
    schema = operation["responses"]["default"]["content"]["application/json"]["schema"]
    body = resp.json()
    assert valid(EXPANDED, schema, body) == []
    assert body == {
        "code": 405,
        "message": "Method PUT is not allowed here; allowed: GET, HEAD, DELETE.",
    }


def test_a_400_and_a_401_are_the_museums_problem_json(mock: Callable[..., TestClient]) -> None:
    client = mock(MUSEUM)
    path = "/_mock/docs/openapi/museum-api/museum-hours"
    problem = resolved(MUSEUM)["components"]["responses"]["BadRequest"]["content"]
    schema = problem["application/problem+json"]["schema"]
    bad = client.get(path + "?limit=abc", headers=BASIC)
    assert bad.status_code == 400
    assert bad.headers["content-type"] == "application/problem+json"
    assert valid(MUSEUM, schema, bad.json()) == []
    assert "limit" in bad.json()["title"]
    # Only deleteSpecialEvent documents a 401; getMuseumHours does not: the envelope there.
    unauthorized = client.delete(path.replace("museum-hours", "special-events/e1"))
    assert unauthorized.status_code == 401
    assert unauthorized.headers["content-type"] == "application/problem+json"
    assert "www-authenticate" in unauthorized.headers
    assert valid(MUSEUM, schema, unauthorized.json()) == []
    assert_envelope(client.get(path), 401, "unauthorized")


def test_where_nothing_is_documented_the_envelope_stays(mock: Callable[..., TestClient]) -> None:
    """petstore3's 400 has a description and no content: our envelope, which says why."""
    client = mock(SPECS / "swagger-petstore3.yaml")
    error = assert_envelope(
        client.get("/api/v3/pet/abc", headers={"api_key": "k"}), 400, "invalid_request"
    )
    assert error["issues"][0]["name"] == "petId"


def test_a_prefer_code_example_is_not_reshaped(mock: Callable[..., TestClient]) -> None:
    """An error the client asked for is the spec's example, untouched."""
    client = mock(MUSEUM)
    resp = client.get(
        "/_mock/docs/openapi/museum-api/museum-hours", headers={**BASIC, "Prefer": "code=404"}
    )
    assert resp.status_code == 404
    assert resp.headers["content-type"] == "application/problem+json"
    assert json.loads(resp.content)  # generated from the schema: Error has no example
