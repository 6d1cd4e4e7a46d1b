"""craftkit proxy in front of the real server: the contract suite's traffic through it finds no
violating answer and gets byte-identical answers; in front of each broken variant, it finds the
fault (report mode) and keeps it from the client (enforce mode)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
import schemathesis

from api.config import Settings
from api.server.app import create_app
from contract_tests import engine as contract
from contract_tests.broken import VARIANTS
from contract_tests.seed import Seeded
from tests.proxy_support import proxied, served
from tests.support import ROOT, serve_database
from tests.test_guards import HOSTILE

SPEC = ROOT / "openapi.yaml"
OPERATION = "GET /v1/renders/{id}/engagement"


def response_issues(app: Any) -> list[dict[str, Any]]:
    """Every response-side violation the proxy recorded."""
    return [
        issue
        for case in app.record.cases.values()
        for failure in case.failures
        for issue in failure.response_issues
    ]


@pytest.fixture(scope="module")
def live(
    database_url: str, seeded: Seeded, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`craftkit serve` of the seeded database, run for real."""
    with serve_database(database_url, tmp_path_factory.mktemp("proxy-live")) as server:
        yield server.url


def test_the_contract_suites_traffic_finds_no_violating_answer(
    live: str, seeded: Seeded, credentials: contract.Credentials
) -> None:
    with (
        proxied(SPEC, live) as (url, app),
        contract.prepared_config(
            credentials, contract.our_contract(), max_examples=15, base_url=url
        ) as config,
    ):
        schema = schemathesis.openapi.from_path(contract.SPEC_PATH, config=config)
        result = contract.run_contract(schema, credentials, render_ids=seeded.pool)
    assert result.ok, contract.summary(result)  # the suite passes through the proxy too
    record = app.record.as_dict()
    # Every exchange of the suite went through the proxy.
    assert record["requests"] >= len(result.exchanges) > 20, (
        record["requests"],
        len(result.exchanges),
    )
    assert response_issues(app) == []
    seen = {case["status"] for case in record["cases"] if case["seen"] and case["documented"]}
    assert seen == {"200", "401", "404"}  # every documented answer went through
    print(app.record.table())


def _requests(seeded: Seeded) -> list[tuple[str, str, dict[str, str], bytes]]:
    owner = {"Authorization": f"Bearer {seeded.key}"}
    requests = [
        ("GET", f"/v1/renders/{seeded.owned[0]}/engagement", owner, b""),
        ("GET", f"/v1/renders/{seeded.owned[0]}/engagement?recent=2", owner, b""),
        ("HEAD", f"/v1/renders/{seeded.owned[0]}/engagement", owner, b""),
        ("GET", f"/v1/renders/{seeded.owned[0]}/engagement", {}, b""),
        ("GET", f"/v1/renders/{seeded.foreign[0]}/engagement", owner, b""),
        ("GET", "/v1/renders/not-a-uuid/engagement", owner, b""),
        ("GET", "/healthz", {}, b""),
    ]
    for row in HOSTILE:
        path, kwargs, with_key = str(row[1]), dict(row[2]), bool(row[3])  # type: ignore[call-overload]
        headers = {**(owner if with_key else {}), **kwargs.get("headers", {})}
        path = path.replace("{R}", seeded.owned[0]).replace("{KEY}", seeded.key)
        requests.append((kwargs.get("method", "GET"), path, headers, kwargs.get("content", b"")))
    return requests


def test_answers_through_the_proxy_are_the_servers_own_bytes(live: str, seeded: Seeded) -> None:
    """Each request, hostile ones included: the same status, headers and body as direct, or
    (past a bound, which the proxy checks first) the same refusal in the envelope."""
    with proxied(SPEC, live) as (url, _app):
        for method, path, headers, body in _requests(seeded):
            request_id = f"proxy-{uuid.uuid4().hex}"
            headers = {**headers, "X-Request-ID": request_id}
            direct = httpx.request(method, live + path, headers=headers, content=body or None)
            through = httpx.request(method, url + path, headers=headers, content=body or None)
            assert through.status_code == direct.status_code, (path, through.text)
            if through.headers.get("x-request-id") != request_id:
                # Refused by the proxy's bound before the server saw it: the same envelope code.
                assert through.json()["error"]["code"] == direct.json()["error"]["code"], path
                continue
            assert through.content == direct.content, path
            shown = [
                (k, v)
                for k, v in through.headers.multi_items()
                if k not in ("date", "contract-violations")
            ]
            # `Connection` is hop-by-hop (RFC 9110 §7.6.1): the proxy's own, not forwarded.
            expected = [
                (k, v) for k, v in direct.headers.multi_items() if k not in ("date", "connection")
            ]
            assert shown == expected, path


# --- the broken servers of contract_tests/broken.py -----------------------------------------


@pytest.fixture(scope="module")
def real_app(settings: Settings, seeded: Seeded) -> Any:
    return create_app(replace(settings, app="async"))


def _probe(url: str, seeded: Seeded) -> list[httpx.Response]:
    owner = {"Authorization": f"Bearer {seeded.key}"}
    calls = [
        (f"/v1/renders/{seeded.owned[0]}/engagement", owner),
        (f"/v1/renders/{seeded.missing[0]}/engagement", owner),
        ("/v1/renders/not-a-uuid/engagement", owner),
        (f"/v1/renders/{seeded.owned[0]}/engagement", {}),
    ]
    return [httpx.get(url + path, headers=headers, timeout=10) for path, headers in calls]


@pytest.mark.parametrize("name", list(VARIANTS))
def test_each_broken_server_is_caught(name: str, real_app: Any, seeded: Seeded) -> None:
    build, _catchers = VARIANTS[name]
    with served(build(real_app, seeded.key)) as upstream:
        with proxied(SPEC, upstream) as (url, app):
            reported = _probe(url, seeded)
        with proxied(SPEC, upstream, mode="enforce") as (url, enforcing):
            enforced = _probe(url, seeded)
    found = response_issues(app)
    assert found, f"{name}: not caught\n{app.record.table()}"
    print(f"{name}: " + "; ".join(sorted({f"{i['in']}: {i['message'][:60]}" for i in found})))
    assert any(_response_side(r) for r in reported), name
    # Enforce: no violating answer reaches the client; each is a 502 or refused before.
    for report, enforce in zip(reported, enforced, strict=True):
        assert "contract-violations" not in enforce.headers, (name, enforce.headers)
        if _response_side(report):
            assert enforce.status_code in (400, 502), (name, enforce.status_code, enforce.text)
            assert set(enforce.json()) == {"error"}
    # Found there too: answered 502, or its request (a malformed id, no key) never forwarded.
    refused = enforcing.record.cases.get((OPERATION, "refused request"))
    assert response_issues(enforcing) or (refused and refused.seen), name


def _response_side(response: httpx.Response) -> bool:
    """Whether the Contract-Violations header names a problem of the answer."""
    header = response.headers.get("contract-violations", "")
    return "response." in header
