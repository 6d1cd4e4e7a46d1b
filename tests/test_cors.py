"""api/protocol/cors.py: CORS on the real server, off by default, on for CRAFTKIT_CORS_ORIGINS.

Over HTTP through the app as served (AsyncApp and FlaskApp); the browser's side of it is
tests/test_serve_browser.py.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from api.config import Settings
from api.openapi.spec import OpenAPI31Specification
from api.protocol.cors import contract_methods, contract_request_headers
from api.server.app import create_app
from tests.support import ROOT, url
from tests.support import assert_small_envelope as assert_envelope

ALLOWED = "http://localhost:5173"
OTHER = "https://evil.example"
RENDER = "5f0c6a52-4d0e-4b8a-9a57-1d3c2e7b9f10"


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The conftest's settings, with one allowed origin."""
    return Settings.from_env(
        {}, database_url=database_url, spec_path=str(ROOT / "openapi.yaml"), cors_origins=ALLOWED
    )


def preflight(client: Any, origin: str, method: str = "GET", headers: str = "authorization") -> Any:
    return client.options(
        url(RENDER),
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
    )


def test_a_preflight_from_an_allowed_origin_names_only_the_contracts_methods_and_headers(
    client: Any,
) -> None:
    response = preflight(client, ALLOWED)
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == ALLOWED
    methods = {m.strip() for m in response.headers["access-control-allow-methods"].split(",")}
    assert methods == {"GET", "HEAD", "OPTIONS"}
    allowed = {
        h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
    }
    assert "authorization" in allowed
    assert not allowed & {"x-api-key", "cookie", "x-anything"}


def test_answers_to_an_allowed_origin_carry_cors_headers_errors_included(
    client: Any, tenant: dict[str, Any], make_render: Any
) -> None:
    render = make_render(tenant["project"])
    ok = client.get(url(render), headers={**tenant["headers"], "Origin": ALLOWED})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == ALLOWED
    exposed = {h.strip() for h in ok.headers["access-control-expose-headers"].split(",")}
    assert {"WWW-Authenticate", "Retry-After", "X-Request-ID", "Allow"} <= exposed
    denied = client.get(url(render), headers={"Origin": ALLOWED})
    assert_envelope(denied, 401, "unauthorized")
    assert denied.headers["access-control-allow-origin"] == ALLOWED  # a page can read the 401


@pytest.mark.parametrize(
    ("origin", "method", "headers", "refused"),
    [
        (OTHER, "GET", "authorization", f"origin '{OTHER}' is not allowed"),
        (ALLOWED, "DELETE", "authorization", "method 'DELETE' is not allowed"),
        (ALLOWED, "GET", "authorization, x-api-key", "headers not allowed: x-api-key"),
    ],
)
def test_a_refused_preflight_is_the_envelope_saying_what(
    client: Any, origin: str, method: str, headers: str, refused: str
) -> None:
    response = preflight(client, origin, method, headers)
    error = assert_envelope(response, 403, "forbidden")
    assert refused in error["message"], error
    assert "access-control-allow-origin" not in response.headers


def test_other_origins_get_no_cors_headers(client: Any, tenant: dict[str, Any]) -> None:
    response = client.get(url(RENDER), headers={**tenant["headers"], "Origin": OTHER})
    assert "access-control-allow-origin" not in response.headers


def test_cors_is_off_by_default(database_url: str) -> None:
    """No CRAFTKIT_CORS_ORIGINS: a preflight is an OPTIONS like any other (405), no headers."""
    from starlette.testclient import TestClient

    settings = Settings.from_env(
        {}, database_url=database_url, spec_path=str(ROOT / "openapi.yaml")
    )
    assert settings.cors_origins == ""
    with TestClient(create_app(replace(settings))) as client:
        response = preflight(client, ALLOWED)
        assert_envelope(response, 405, "method_not_allowed")
        assert "access-control-allow-origin" not in response.headers
        plain = client.get(url(RENDER), headers={"Origin": ALLOWED})
        assert "access-control-allow-origin" not in plain.headers


def test_methods_and_headers_come_from_the_spec(tmp_path: Any) -> None:
    """A contract with a header parameter and a POST: both are allowed, nothing else."""
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(
        """openapi: 3.1.0
info: {title: t, version: '1'}
paths:
  /things:
    post:
      operationId: makeThing
      parameters:
        - {name: Idempotency-Key, in: header, schema: {type: string}}
      responses: {'201': {description: made}}
  /things/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: string}}
      - {name: X-Tenant, in: header, schema: {type: string}}
    get:
      operationId: getThing
      responses: {'200': {description: ok}}
"""
    )
    spec = OpenAPI31Specification.from_path(spec_path)
    assert contract_methods(spec) == ["GET", "HEAD", "OPTIONS", "POST"]
    assert contract_request_headers(spec) == ["Authorization", "Idempotency-Key", "X-Tenant"]
    ours = OpenAPI31Specification.from_path(ROOT / "openapi.yaml")
    assert contract_methods(ours) == ["GET", "HEAD", "OPTIONS"]
