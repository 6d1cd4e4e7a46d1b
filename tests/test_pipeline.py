"""The compiled pipeline (api/openapi/pipeline.py) answers exactly as Connexion's own stack.

The same requests go to the AsyncApp built both ways (`CRAFTKIT_PIPELINE=compiled`, the
default, and `connexion`) on one database, and every answer is compared: status, headers
(but the date and the request id, which differ by nature) and body, byte for byte. The
comparison is shown to catch a difference, and the compiled app is shown to answer the
contract's operation without Connexion's layers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from api.config import Settings
from api.openapi.connexion_shim import started_middleware
from api.openapi.pipeline import CompiledPipeline, compiled_operations
from api.server.app import create_app
from db import keys, queries
from db.connection import connection
from tests.support import ROOT

MISSING = "5f0c6a52-4d0e-4b8a-9a57-1d3c2e7b9f10"
VARYING = {"date", "x-request-id"}

Answer = tuple[int, list[tuple[str, str]], bytes]


def answer(response: Any) -> Answer:
    headers = [(k, v) for k, v in response.headers.multi_items() if k not in VARYING]
    return response.status_code, headers, response.content


@pytest.fixture
def world(tenant: dict[str, Any], make_key: Any, make_render: Any, record_events: Any) -> dict:
    """A render with events, another project's render, a live-mode key and a revoked key."""
    render = make_render(tenant["project"], "test")
    record_events(
        [
            {
                "renderId": render,
                "eventType": kind,
                "actorKind": "recipient",
                "createdAt": f"2026-06-21T10:{minute:02d}:00.000Z",
                **({"metadata": {"page": minute}} if minute % 2 else {}),
            }
            for minute, kind in enumerate(["viewed", "downloaded", "viewed", "printed"] * 6)
        ]
    )
    foreign = make_render(None, "test")
    live = make_key(tenant["project"], "live")
    revoked = make_key(tenant["project"], "test")
    with connection():
        queries.revoke_key(digest=keys.digest(revoked))
    return {**tenant, "render": render, "foreign": foreign, "live": live, "revoked": revoked}


def requests(world: dict[str, Any]) -> list[tuple[str, str, dict[str, str]]]:
    """(method, target, headers): answers of every kind the server gives on the contract path."""
    key = {"Authorization": f"Bearer {world['key']}"}
    render, url = world["render"], f"/v1/renders/{world['render']}/engagement"
    return [
        ("GET", url, key),
        ("HEAD", url, key),
        ("GET", url + "?unknown=1&x=", key),
        ("GET", url, {"Authorization": f"bearer {world['key']}"}),
        ("GET", url, {**key, "X-Request-ID": "abc-123"}),
        ("GET", url, {**key, "Accept": "text/html"}),
        ("GET", url, {**key, "Content-Type": "text/plain"}),
        ("GET", url, {}),
        ("GET", url, {"Authorization": "Bearer"}),
        ("GET", url, {"Authorization": "Bearer   "}),
        ("GET", url, {"Authorization": "Basic dXNlcjpwYXNz"}),
        ("GET", url, {"Authorization": "Bearer not-a-key"}),
        ("GET", url, {"Authorization": "Bearer ck_test_" + "x" * 32}),
        ("GET", url, {"Authorization": f"Bearer {world['revoked']}"}),
        ("GET", url, {"Authorization": f"Bearer {world['live']}"}),
        ("GET", f"/v1/renders/{world['foreign']}/engagement", key),
        ("GET", f"/v1/renders/{MISSING}/engagement", key),
        ("GET", f"/v1/renders/{render.upper()}/engagement", key),
        ("GET", "/v1/renders/abc/engagement", key),
        ("GET", "/v1/renders/abc/engagement", {}),
        ("GET", "/v1/renders/%7Bx%7D/engagement", key),
        ("GET", f"/v1/renders/{render}%2Fengagement", key),
        ("GET", url + "/", key),
        ("GET", "/v1/renders//engagement", key),
        ("POST", url, key),
        ("DELETE", url, key),
        ("OPTIONS", url, key),
        ("GET", "/v1/renders", key),
        ("GET", "/nothing", {}),
        ("GET", "/openapi.json", {}),
        ("GET", "/livez", {}),
    ]


def both(settings: Settings) -> Iterator[tuple[TestClient, TestClient]]:
    compiled = create_app(replace(settings, app="async", pipeline="compiled"))
    stock = create_app(replace(settings, app="async", pipeline="connexion"))
    with TestClient(compiled) as a, TestClient(stock) as b:
        yield a, b


def differences(
    a: TestClient, b: TestClient, cases: list[tuple[str, str, dict[str, str]]]
) -> list[str]:
    found = []
    for method, target, headers in cases:
        first = answer(a.request(method, "http://testserver" + target, headers=headers))
        second = answer(b.request(method, "http://testserver" + target, headers=headers))
        if first != second:
            found.append(f"{method} {target} {headers}: {first!r} != {second!r}")
    return found


def test_the_compiled_pipeline_answers_as_connexions_stack(
    settings: Settings, world: dict[str, Any]
) -> None:
    for a, b in both(settings):
        assert differences(a, b, requests(world)) == []
        # And twice: the first request of an operation builds nothing the second reuses wrongly.
        assert differences(a, b, requests(world)[:3]) == []


def test_with_strict_query_parameters_too(settings: Settings, world: dict[str, Any]) -> None:
    url = f"/v1/renders/{world['render']}/engagement"
    key = {"Authorization": f"Bearer {world['key']}"}
    cases = [("GET", url + "?unknown=1", key), ("GET", url + "?a=1&b=2", {}), ("GET", url, key)]
    for a, b in both(replace(settings, strict_query=True)):
        assert differences(a, b, cases) == []
        assert a.get(url + "?unknown=1", headers=key).status_code == 400


def _nonconforming_spec(tmp_path: Path) -> str:
    """The contract with `total` a string: every 200 the handler makes breaks it."""
    text = (ROOT / "openapi.yaml").read_text(encoding="utf-8")
    changed, count = re.subn(
        r"(\n        total:\n          type: )integer", r"\1string", text, count=1
    )
    assert count == 1, "the contract's EngagementSummary.total moved: update this test"
    path = tmp_path / "nonconforming.yaml"
    path.write_text(changed, encoding="utf-8")
    return str(path)


def test_a_nonconforming_answer_is_the_same_500_on_both(
    settings: Settings, world: dict[str, Any], tmp_path: Path
) -> None:
    broken = replace(settings, spec_path=_nonconforming_spec(tmp_path))
    url = f"/v1/renders/{world['render']}/engagement"
    key = {"Authorization": f"Bearer {world['key']}"}
    for a, b in both(broken):
        assert differences(a, b, [("GET", url, key), ("HEAD", url, key)]) == []
        response = a.get(url, headers=key)
        assert response.status_code == 500
        assert response.json() == {
            "error": {"code": "internal_error", "message": "Internal server error."}
        }


def test_the_comparison_catches_a_difference(
    settings: Settings, world: dict[str, Any], tmp_path: Path
) -> None:
    """Response validation off on one side only: the broken answer is a 200 there, a 500 here."""
    broken = replace(settings, spec_path=_nonconforming_spec(tmp_path))
    url = f"/v1/renders/{world['render']}/engagement"
    key = {"Authorization": f"Bearer {world['key']}"}
    compiled = create_app(replace(broken, app="async"))
    unchecked = create_app(
        replace(broken, app="async", pipeline="connexion", validate_responses=False)
    )
    with TestClient(compiled) as a, TestClient(unchecked) as b:
        found = differences(a, b, [("GET", url, key), ("GET", "/nothing", {})])
    assert len(found) == 1 and found[0].startswith(f"GET {url}")


def test_the_contract_operation_never_reaches_connexions_layers(
    settings: Settings, world: dict[str, Any]
) -> None:
    """With everything behind the pipeline broken, the operation still answers; the rest fail."""
    app = create_app(replace(settings, app="async"))

    async def behind(_scope: Any, _receive: Any, _send: Any) -> None:
        raise RuntimeError("reached Connexion's own layers")

    with TestClient(app, raise_server_exceptions=False) as client:
        pipeline = started_middleware(app, CompiledPipeline)
        assert pipeline is not None, "the AsyncApp was built without the compiled pipeline"
        ids = {op.operation_id for op in compiled_operations(pipeline)}
        assert ids == {"getRenderEngagement"}
        pipeline.app = behind
        key = {"Authorization": f"Bearer {world['key']}"}
        url = f"/v1/renders/{world['render']}/engagement"
        assert client.get(url, headers=key).status_code == 200
        assert client.get(url).status_code == 401
        assert client.get(f"/v1/renders/{MISSING}/engagement", headers=key).status_code == 404
        assert client.get("/openapi.json").status_code == 500  # went on, met the breakage


def test_connexion_keeps_its_own_stack_and_flask_never_compiles(settings: Settings) -> None:
    stock = create_app(replace(settings, app="async", pipeline="connexion"))
    flask = create_app(replace(settings, app="flask", pipeline="compiled"))
    for app in (stock, flask):
        with TestClient(app):
            assert started_middleware(app, CompiledPipeline) is None
