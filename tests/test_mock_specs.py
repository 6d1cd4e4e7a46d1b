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


def test_a_percent_encoded_base_path_is_served(
    mock: Callable[..., TestClient], tmp_path: Path
) -> None:
    """`servers: [{url: https://h/caf%C3%A9}]`: requests arrive decoded (`/café/items`)."""
    spec = tmp_path / "cafe.yaml"
    document = yaml.safe_load(PETSTORE.read_text())
    document["servers"] = [{"url": "https://h/caf%C3%A9"}]
    spec.write_text(yaml.safe_dump(document))
    client = mock(spec)
    assert client.get("/caf%C3%A9/pets").status_code == 200
    assert client.get("/caf%C3%A9/openapi.json").status_code == 200
    assert client.get("/pets").status_code == 200
    assert_envelope(client.get("/caf%C3%A9/nothing"), 404, "not_found")


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


# --- requests by the spec's rules -------------------------------------------------------------

FORM_DATA = SPECS / "readme-3.0-form-data.yaml"  # optional form body requiring client_id, …
UPLOADS = SPECS / "readme-3.0-file-uploads.yaml"  # optional multipart bodies
SECURITY = SPECS / "readme-3.0-security.yaml"  # one operation per security scheme kind
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_an_absent_optional_body_is_valid(mock: Callable[..., TestClient]) -> None:
    """uspto's search takes an optional form body whose schema requires `criteria`."""
    client = mock(USPTO)
    path = "/ds-api/oa_citations/v1/records"
    assert client.post(path).status_code == 200
    assert client.post(path, content=b"criteria=*:*", headers=FORM).status_code == 200
    bad = client.post(path, content=b"start=0", headers=FORM)
    assert bad.status_code == 400 and "criteria" in bad.text  # a body that is sent is checked
    assert mock(FORM_DATA).post("/anything").status_code == 200
    assert mock(UPLOADS).post("/anything/multipart-formdata").status_code == 200


def test_a_required_body_is_still_required(mock: Callable[..., TestClient]) -> None:
    client = mock(EXPANDED)
    missing = client.post("/v2/pets", headers={"Content-Type": "application/json"})
    assert missing.status_code == 400
    assert missing.json() == {"code": 400, "message": "RequestBody is required"}  # `default`
    assert client.post("/v2/pets", json={"name": "Rex"}).status_code == 200


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b"client_id=a&client_secret=b&scope=3", 200),
        (b"client_id=a&client_secret=b", 200),
        (b"client_id=a", 400),  # client_secret is required
        (b"client_id=a&client_secret=b&scope=three", 400),  # scope is an integer
    ],
)
def test_form_bodies_are_validated_by_their_schema(
    mock: Callable[..., TestClient], content: bytes, status: int
) -> None:
    resp = mock(FORM_DATA).post("/anything", content=content, headers=FORM)
    assert resp.status_code == status, resp.text


@pytest.mark.parametrize(
    ("fields", "status"),
    [({"orderId": "7", "userId": "3"}, 200), ({"orderId": "seven"}, 400)],
)
def test_multipart_bodies_are_validated_by_their_schema(
    mock: Callable[..., TestClient], fields: dict[str, str], status: int
) -> None:
    resp = mock(UPLOADS).post(
        "/anything/multipart-formdata",
        data=fields,
        files={"documentFile": ("a.pdf", b"%PDF-1.4", "application/pdf")},
    )
    assert resp.status_code == status, resp.text


@pytest.mark.parametrize(
    ("method", "path", "good", "bad"),
    [
        ("GET", "/anything/apiKey?apiKey=k1", {}, {}),  # in query
        ("POST", "/anything/apiKey", {"Cookie": "api_key=k1"}, {"Cookie": "other=k1"}),
        ("PUT", "/anything/apiKey", {"X-API-KEY": "k1"}, {"X-Other": "k1"}),
        (
            "POST",
            "/anything/basic",
            {"Authorization": "Basic " + base64.b64encode(b"ann:pw").decode()},
            {"Authorization": "Bearer pw"},  # a bearer token where basic is asked
        ),
        (
            "POST",
            "/anything/bearer",
            {"Authorization": "Bearer t1"},
            {"Authorization": "Basic dDE="},
        ),
        ("POST", "/anything/oauth2", {"Authorization": "Bearer t1"}, {"X-API-KEY": "t1"}),
        ("POST", "/anything/openIdConnect", {"Authorization": "Bearer t1"}, {}),
    ],
)
def test_every_security_scheme_kind_is_checked_by_its_own_rule(
    mock: Callable[..., TestClient],
    method: str,
    path: str,
    good: dict[str, str],
    bad: dict[str, str],
) -> None:
    client = mock(SECURITY)
    assert client.request(method, path, headers=good).status_code == 200
    refused = client.request(method, path.split("?")[0], headers=bad)
    assert refused.status_code == 401, refused.text


@pytest.mark.parametrize(
    ("method", "path", "headers", "asked", "challenge"),
    [
        ("GET", "/anything/apiKey", {}, "an API key in the query parameter 'apiKey'", "ApiKey"),
        ("POST", "/anything/apiKey", {}, "an API key in the cookie 'api_key'", "ApiKey"),
        ("PUT", "/anything/apiKey", {}, "an API key in the header 'X-API-KEY'", "ApiKey"),
        ("POST", "/anything/basic", {}, "HTTP basic credentials", "Basic"),
        ("POST", "/anything/basic", {"Authorization": "Bearer t"}, "HTTP basic", "Basic"),
        ("POST", "/anything/oauth2", {}, None, "Bearer"),
    ],
)
def test_a_401_names_the_credentials_the_operation_asks_for(
    mock: Callable[..., TestClient],
    method: str,
    path: str,
    headers: dict[str, str],
    asked: str | None,
    challenge: str,
) -> None:
    """Not "Missing Bearer token." and `WWW-Authenticate: Bearer` for an API key or basic."""
    resp = mock(SECURITY).request(method, path, headers=headers)
    message = assert_envelope(resp, 401, "unauthorized")["message"]
    if asked is None:  # a bearer scheme: the server's own words
        assert message == "Missing Bearer token."
    else:
        assert asked in message and "Bearer" not in message, message
    assert resp.headers["www-authenticate"].split(" ")[0] == challenge


def test_the_museums_basic_auth_401_asks_for_basic(mock: Callable[..., TestClient]) -> None:
    client = mock(MUSEUM)
    resp = client.get("/_mock/docs/openapi/museum-api/museum-hours")
    assert "HTTP basic" in assert_envelope(resp, 401, "unauthorized")["message"]
    assert resp.headers["www-authenticate"].startswith("Basic ")
    documented = client.delete("/_mock/docs/openapi/museum-api/special-events/e1")
    assert documented.headers["content-type"] == "application/problem+json"
    assert "HTTP basic" in documented.json()["title"]


def test_malformed_basic_credentials_are_a_401(mock: Callable[..., TestClient]) -> None:
    client = mock(SECURITY)
    resp = client.post("/anything/basic", headers={"Authorization": "Basic %%%not-base64"})
    assert resp.status_code == 401


def test_an_operation_with_no_documented_response_answers_204(
    mock: Callable[..., TestClient],
) -> None:
    document = yaml.safe_load((SPECS / "oai-3.2-tags-example.yaml").read_text())
    assert "responses" not in document["paths"]["/flights"]["get"]
    resp = mock(SPECS / "oai-3.2-tags-example.yaml").get("/flights")
    assert resp.status_code == 204 and resp.content == b""


def test_32_query_and_additional_operations_are_served(mock: Callable[..., TestClient]) -> None:
    query = mock(SPECS / "oai-3.2-query-example.yaml")
    search = {"origin": "ATL", "destination": "LHR", "departureDate": "2026-06-15"}
    resp = query.request("QUERY", "/flights/search", json=search)
    assert resp.status_code == 200 and "flights" in resp.json()
    missing = query.request("QUERY", "/flights/search", json={"origin": "ATL"})
    assert missing.status_code == 400
    assert query.get("/flights/search").headers["allow"] == "QUERY"
    items = mock(SPECS / "oai-3.2-path-item-object-example.yaml")
    for method in ("GET", "QUERY", "COPY"):
        assert items.request(method, "/pets/1,2").status_code == 200, method
    preflight = items.options(
        "/pets/1", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "COPY"}
    )
    assert preflight.status_code == 200
    assert set(preflight.headers["access-control-allow-methods"].split(", ")) == {
        "GET",
        "HEAD",
        "QUERY",
        "COPY",
        "OPTIONS",
    }


def test_a_32_method_the_server_cannot_parse_is_named(
    mock: Callable[..., TestClient], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    document = yaml.safe_load((SPECS / "oai-3.2-path-item-object-example.yaml").read_text())
    item = document["paths"]["/pets/{id}"]
    item["additionalOperations"]["FROB"] = item["additionalOperations"]["COPY"] | {
        "operationId": "frobPets"
    }
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(document))
    client = mock(spec)
    assert client.request("COPY", "/pets/1").status_code == 200
    assert any(
        "additionalOperations FROB /pets/{id} is not served" in r.getMessage()
        for r in caplog.records
    )


def test_a_media_type_range_is_answered_as_json_inside_it(
    mock: Callable[..., TestClient],
) -> None:
    """`*/*` is a range, not a Content-Type: the body goes as JSON (it was Python's repr of the
    data, `[None, {}, None]`, under `content-type: */*`)."""
    spec = SPECS / "oai-3.2-path-item-object-example.yaml"
    client = mock(spec)
    schema = resolved(spec)["paths"]["/pets/{id}"]["get"]["responses"]["200"]["content"]["*/*"]
    for method in ("GET", "QUERY"):
        resp = client.request(method, "/pets/1,2")
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"] == "application/json"
        assert valid(spec, schema["schema"], json.loads(resp.content)) == []
