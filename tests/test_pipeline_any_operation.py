"""The compiled pipeline on operations unlike the contract's: query and header parameters, a
JSON body, a base path, basic auth, an answer that streams and one that breaks its schema.

Each request goes to the same document assembled twice (api/assembly.py), compiled and on
Connexion's own stack, and the answers are compared byte for byte, as tests/test_pipeline.py
does for the server's contract: what the pipeline does not call directly (a handler taking
more than path parameters, a body, a stream) still takes Connexion's pieces.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import connexion
import pytest
import yaml
from connexion.resolver import Resolver
from starlette.responses import StreamingResponse
from starlette.testclient import TestClient

from api.assembly import assemble
from api.openapi.connexion_shim import started_middleware, with_info_func
from api.openapi.pipeline import CompiledPipeline
from api.openapi.spec import OpenAPI31Specification
from tests.test_pipeline import answer

ERROR = {"$ref": "#/components/schemas/Error"}
DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "any", "version": "1"},
    "servers": [{"url": "https://example.test/api/v2"}],
    "paths": {
        "/items/{n}": {
            "get": {
                "operationId": "getItem",
                "parameters": [
                    {"name": "n", "in": "path", "required": True, "schema": {"type": "integer"}},
                    {"name": "q", "in": "query", "required": True, "schema": {"type": "integer"}},
                    {"name": "X-Trace", "in": "header", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
        "/items": {
            "post": {
                "operationId": "addItem",
                "security": [{"basic": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {"name": {"type": "string", "minLength": 1}},
                            }
                        }
                    },
                },
                "responses": {
                    "201": {
                        "description": "made",
                        "headers": {"Location": {"required": True, "schema": {"type": "string"}}},
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
        "/stream": {
            "get": {
                "operationId": "getStream",
                "responses": {
                    "200": {
                        "description": "lines",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/broken": {
            "get": {
                "operationId": "getBroken",
                "responses": {
                    "200": {
                        "description": "never right",
                        "content": {
                            "application/json": {"schema": {"type": "object", "required": ["id"]}}
                        },
                    }
                },
            }
        },
    },
    "components": {
        "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}},
        "schemas": {"Error": {"type": "object"}},
    },
}


def get_item(n: int, q: int, x_trace: str | None = None) -> Any:
    return {"n": n, "q": q, "trace": x_trace, "types": [type(n).__name__, type(q).__name__]}


async def add_item(body: dict[str, Any], user: str) -> Any:
    return {"made": body["name"], "by": user}, 201, {"Location": f"/api/v2/items/{body['name']}"}


async def get_stream() -> StreamingResponse:
    async def lines() -> AsyncIterator[bytes]:
        for n in range(3):
            yield f"line {n}\n".encode()

    return StreamingResponse(lines(), media_type="text/plain")


def get_broken() -> Any:
    return {"name": "no id"}


HANDLERS = {
    "getItem": get_item,
    "addItem": add_item,
    "getStream": get_stream,
    "getBroken": get_broken,
}


def basic_info(_scheme: dict[str, Any]) -> Any:
    def check(username: str, password: str, required_scopes: Any = None) -> Any:
        return {"sub": username} if password == "secret" else None

    return check


def build(tmp_path: Path, compiled: bool) -> Any:
    path = tmp_path / "any.yaml"
    path.write_text(yaml.safe_dump(DOCUMENT))
    spec = OpenAPI31Specification.from_path(path)
    from connexion.security import BasicSecurityHandler

    return assemble(
        spec,
        path,
        app_class=connexion.AsyncApp,
        resolver=Resolver(lambda operation_id: HANDLERS[operation_id]),
        security_map={"basic": with_info_func(BasicSecurityHandler, basic_info)},
        max_body=None,
        compiled=compiled,
    )


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/api/v2/items/7?q=3", {}),
    ("GET", "/api/v2/items/7?q=3", {"headers": {"X-Trace": "abc"}}),
    ("GET", "/api/v2/items/7", {}),
    ("GET", "/api/v2/items/7?q=x", {}),
    ("GET", "/api/v2/items/seven?q=3", {}),
    ("GET", "/items/7?q=3", {}),
    ("HEAD", "/api/v2/items/7?q=3", {}),
    ("POST", "/api/v2/items", {"json": {"name": "a"}, "headers": basic("ann", "secret")}),
    ("POST", "/api/v2/items", {"json": {"name": "a"}, "headers": basic("ann", "wrong")}),
    ("POST", "/api/v2/items", {"json": {"name": "a"}}),
    ("POST", "/api/v2/items", {"json": {"name": ""}, "headers": basic("ann", "secret")}),
    ("POST", "/api/v2/items", {"json": {}, "headers": basic("ann", "secret")}),
    (
        "POST",
        "/api/v2/items",
        {"content": b"name=a", "headers": {**basic("ann", "secret"), "Content-Type": "text/plain"}},
    ),
    ("POST", "/api/v2/items", {"headers": basic("ann", "secret")}),
    ("GET", "/api/v2/stream", {}),
    ("GET", "/api/v2/broken", {}),
    ("DELETE", "/api/v2/items/7?q=3", {}),
]


@pytest.fixture
def clients(tmp_path: Path) -> Any:
    compiled, stock = build(tmp_path, True), build(tmp_path, False)
    with TestClient(compiled) as a, TestClient(stock) as b:
        pipeline = started_middleware(compiled, CompiledPipeline)
        assert pipeline is not None and started_middleware(stock, CompiledPipeline) is None
        for method, path in [("GET", "/api/v2/items/7"), ("POST", "/api/v2/items")]:
            found = pipeline.route({"method": method, "path": path, "root_path": ""})
            assert found is not None, f"{method} {path} is not compiled"
        assert pipeline.route({"method": "GET", "path": "/items/7", "root_path": ""}) is None
        yield a, b


@pytest.mark.parametrize(("method", "target", "options"), CASES, ids=lambda c: str(c)[:40])
def test_any_operation_answers_as_on_connexions_stack(
    clients: Any, method: str, target: str, options: dict[str, Any]
) -> None:
    a, b = clients
    first = answer(a.request(method, "http://testserver" + target, **options))
    second = answer(b.request(method, "http://testserver" + target, **options))
    assert first == second


def test_the_cases_reach_every_kind_of_answer(clients: Any) -> None:
    """The table above is not all 404s: it holds successes, refusals and the broken answer."""
    a, _ = clients
    statuses = {
        a.request(method, "http://testserver" + target, **options).status_code
        for method, target, options in CASES
    }
    assert {200, 201, 400, 401, 404, 405, 415, 500} <= statuses
