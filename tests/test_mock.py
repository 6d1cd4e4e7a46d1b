"""Mock mode over HTTP (TestClient on the ASGI app) and its parts: preferences, examples,
generated data, validation, security, CORS, delay and the log line.

Expected bodies are read from the spec files, never written out here.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from connexion.exceptions import ProblemException
from openapi_schema_validator import OAS31Validator, oas31_format_checker
from starlette.testclient import TestClient

from api.mock import (
    Generator,
    MockOptions,
    PreferenceProblem,
    Preferences,
    create_mock_app,
    documented_status,
    parse_prefer,
)
from api.openapi.spec import OpenAPI31Specification
from api.openapi.validation import SchemaCache
from tests.support import ROOT, assert_envelope

CONTRACT = ROOT / "openapi.yaml"
SHOP = ROOT / "tests" / "data" / "mock_shop.yaml"
PETS30 = ROOT / "tests" / "data" / "mock_pets30.yaml"
RENDER = "5f0c6a52-4d0e-4b8a-9a57-1d3c2e7b9f10"
ENGAGEMENT = f"/v1/renders/{RENDER}/engagement"
BEARER = {"Authorization": "Bearer ck_test_anything"}
ORIGIN = "http://localhost:5173"


def resolved(path: Path) -> dict[str, Any]:
    return OpenAPI31Specification.from_path(path).spec


def engagement_response(status: str) -> dict[str, Any]:
    return resolved(CONTRACT)["paths"]["/v1/renders/{id}/engagement"]["get"]["responses"][status]


def example(status: str) -> Any:
    return engagement_response(status)["content"]["application/json"]["example"]


def assert_valid(schema: dict[str, Any], body: Any) -> None:
    errors = list(OAS31Validator(schema, format_checker=oas31_format_checker).iter_errors(body))
    assert not errors, [e.message for e in errors]


@pytest.fixture
def mock_client() -> Callable[..., TestClient]:
    def make(spec: Path = CONTRACT, **options: Any) -> TestClient:
        app = create_mock_app(MockOptions(spec_path=str(spec), **options))
        return TestClient(app, follow_redirects=False)  # a redirect is an answer too

    return make


@pytest.fixture
def client(mock_client: Callable[..., TestClient]) -> TestClient:
    return mock_client()


# --- preferences ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["code=404"], {"code": 404}),
        (['example="two"'], {"example": "two"}),
        (["dynamic=true, seed=7"], {"dynamic": True, "seed": 7}),
        (["dynamic=true; seed=7"], {"dynamic": True, "seed": 7}),  # RFC 7240 parameter form
        (['example="a,b;c", code=201'], {"example": "a,b;c", "code": 201}),
        (["code=429", "dynamic=true"], {"code": 429, "dynamic": True}),
        (["return=minimal; x=1, CODE=201"], {"code": 201}),
        (["respond-async"], {}),
    ],
)
def test_prefer_is_read_as_rfc_7240(values: list[str], expected: dict[str, Any]) -> None:
    prefs = parse_prefer(values)
    assert prefs.problems == []
    assert {k: getattr(prefs, k) for k in expected} == expected
    untouched = Preferences()
    for name in {"code", "example", "dynamic", "seed"} - set(expected):
        assert getattr(prefs, name) == getattr(untouched, name)


@pytest.mark.parametrize("value", ["code=abc", "code=999", "seed=x", "dynamic=maybe"])
def test_bad_preferences_are_reported(value: str) -> None:
    assert len(parse_prefer([value]).problems) == 1


def test_default_status_is_the_first_documented_2xx() -> None:
    assert documented_status({"401": {}, "201": {}, "200": {}}, None) == (201, "201")
    assert documented_status({"2XX": {}}, None) == (200, "2XX")
    assert documented_status({"200": {}, "4XX": {}}, 418) == (418, "4XX")
    with pytest.raises(PreferenceProblem, match=r"documented: 200, 401\."):
        documented_status({"200": {}, "401": {}}, 404)


# --- examples over HTTP -----------------------------------------------------------------------


def test_valid_request_gets_the_operations_example(client: TestClient) -> None:
    resp = client.get(ENGAGEMENT, headers=BEARER)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    assert resp.json() == example("200")


def test_head_answers_as_get_without_a_body(client: TestClient) -> None:
    resp = client.head(ENGAGEMENT, headers=BEARER)
    assert resp.status_code == 200 and resp.content == b""


def test_prefer_code_returns_that_statuses_example(client: TestClient) -> None:
    resp = client.get(ENGAGEMENT, headers={**BEARER, "Prefer": "code=404"})
    assert resp.status_code == 404
    assert resp.json() == example("404")
    assert resp.headers["preference-applied"] == "code=404"


def test_undocumented_code_is_a_400_naming_the_documented_ones(client: TestClient) -> None:
    error = assert_envelope(
        client.get(ENGAGEMENT, headers={**BEARER, "Prefer": "code=418"}), 400, "invalid_request"
    )
    documented = ", ".join(
        resolved(CONTRACT)["paths"]["/v1/renders/{id}/engagement"]["get"]["responses"]
    )
    assert f"documented: {documented}." in error["message"]
    assert error["issues"][0]["name"] == "Prefer"


@pytest.mark.parametrize(
    ("query", "headers", "where"),
    [
        ("?__code=418", {}, {"in": "query", "name": "__code"}),
        ("?__code=teapot", {}, {"in": "query", "name": "__code"}),
        ("?__seed=x", {}, {"in": "query", "name": "__seed"}),
        ("", {"Prefer": "code=418"}, {"in": "header", "name": "Prefer"}),
        ("", {"Prefer": "dynamic=maybe"}, {"in": "header", "name": "Prefer"}),
    ],
)
def test_a_refused_preference_names_where_it_came_from(
    client: TestClient, query: str, headers: dict[str, str], where: dict[str, str]
) -> None:
    resp = client.get(ENGAGEMENT + query, headers={**BEARER, **headers})
    issue = assert_envelope(resp, 400, "invalid_request")["issues"][0]
    assert {"in": issue["in"], "name": issue["name"]} == where


def test_bad_prefer_is_a_400(client: TestClient) -> None:
    error = assert_envelope(
        client.get(ENGAGEMENT, headers={**BEARER, "Prefer": "code=teapot"}), 400, "invalid_request"
    )
    assert "code='teapot'" in error["message"]


def test_prefer_example_picks_a_named_example(mock_client: Callable[..., TestClient]) -> None:
    shop = mock_client(SHOP)
    examples = yaml.safe_load(SHOP.read_text())["paths"]["/orders"]["get"]["responses"]["200"][
        "content"
    ]["application/json"]["examples"]
    assert shop.get("/orders").json() == examples["two"]["value"]  # the first, by default
    resp = shop.get("/orders", headers={"Prefer": "example=empty"})
    assert resp.json() == examples["empty"]["value"]
    error = assert_envelope(
        shop.get("/orders", headers={"Prefer": "example=nope"}), 400, "invalid_request"
    )
    assert "named examples: two, empty." in error["message"]


def test_response_headers_come_from_the_spec(mock_client: Callable[..., TestClient]) -> None:
    shop = mock_client(SHOP)
    headers = yaml.safe_load(SHOP.read_text())["paths"]["/orders"]["get"]["responses"]["200"][
        "headers"
    ]
    resp = shop.get("/orders")
    assert resp.headers["x-total-count"] == str(headers["X-Total-Count"]["example"])
    # Required but without an example: generated from its schema (a uuid).
    assert_valid(headers["X-Request-Id"]["schema"], resp.headers["x-request-id"])


def test_operation_without_operation_id_and_31_type_list_parameter(
    mock_client: Callable[..., TestClient],
) -> None:
    """Connexion's mock answers 500 without an operationId; its coercion fails on type lists."""
    shop = mock_client(SHOP)
    assert "operationId" not in yaml.safe_load(SHOP.read_text())["paths"]["/orders"]["get"]
    for query in ("", "?limit=3", "?limit=null"):
        assert shop.get(f"/orders{query}").status_code == 200, query
    error = assert_envelope(shop.get("/orders?limit=99"), 400, "invalid_request")
    assert error["issues"][0]["name"] == "limit"


def test_no_example_means_a_generated_stable_body(mock_client: Callable[..., TestClient]) -> None:
    shop = mock_client(SHOP)
    schema = resolved(SHOP)["components"]["schemas"]["Order"]
    first = shop.post("/orders", json={"item": "pen"})
    assert first.status_code == 201
    assert_valid(schema, first.json())
    assert shop.post("/orders", json={"item": "pen"}).json() == first.json()
    assert_envelope(shop.post("/orders", json={}), 400, "invalid_request")


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_a_non_integer_integer_path_parameter_is_a_400(
    mock_client: Callable[..., TestClient], method: str
) -> None:
    """Connexion routes it with Starlette's int convertor: a 404 "No route matches" before."""
    shop = mock_client(SHOP)
    error = assert_envelope(shop.request(method, "/orders/abc"), 400, "invalid_request")
    assert error["issues"] == [
        {"in": "path", "name": "id", "message": '"abc" is not of type "integer"'}
    ]
    assert shop.request(method, "/orders/-1").status_code in (200, 204)


def test_concrete_paths_match_before_templated_ones(mock_client: Callable[..., TestClient]) -> None:
    shop = mock_client(SHOP)
    assert shop.get("/orders/summary").json() == {"open": 1}
    assert shop.get("/orders/3").json()["id"] == 3


def test_no_content_response(mock_client: Callable[..., TestClient]) -> None:
    resp = mock_client(SHOP).delete("/orders/3")
    assert resp.status_code == 204 and resp.content == b""


def test_an_example_that_breaks_its_schema_is_named_never_sent(
    mock_client: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    """A spec bug the frontend dev must see: in the 500's message, and once in the log."""
    caplog.set_level(logging.WARNING, logger="craftkit.mock")
    shop = mock_client(SHOP)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "spec example does not match its schema: getBroken 200 application/json example: "
        '/count: "many" is not of type "integer"',
        "spec example does not match its schema: getHalfBroken 200 application/json "
        "example 'wrong': /: \"count\" is a required property",
    ]
    # Unasked, an invalid example is skipped: data generated from the schema is sent instead.
    generated = shop.get("/broken")
    assert generated.status_code == 200 and isinstance(generated.json()["count"], int)
    assert shop.get("/broken/named").json() == {"count": 2}
    error = assert_envelope(
        shop.get("/broken/named", headers={"Prefer": "example=wrong"}), 500, "internal_error"
    )
    assert "example 'wrong' of getHalfBroken 200" in error["message"]
    assert '"count" is a required property' in error["message"]


def test_openapi_30_documents_are_mocked(mock_client: Callable[..., TestClient]) -> None:
    pets = mock_client(PETS30)
    operation = yaml.safe_load(PETS30.read_text())["paths"]["/pets/{petId}"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert pets.get(f"/pets/{RENDER}").json() == schema["example"]
    assert_envelope(pets.get("/pets/not-a-uuid"), 400, "invalid_request")
    for seed in range(5):
        body = pets.get(f"/pets/{RENDER}", headers={"Prefer": f"dynamic=true, seed={seed}"}).json()
        assert set(body) == set(schema["required"])


# --- dynamic data -----------------------------------------------------------------------------


def test_dynamic_bodies_are_valid_varied_and_reproducible(client: TestClient) -> None:
    schema = engagement_response("200")["content"]["application/json"]["schema"]
    bodies = []
    for seed in range(15):
        resp = client.get(ENGAGEMENT, headers={**BEARER, "Prefer": f"dynamic=true, seed={seed}"})
        assert resp.status_code == 200
        assert resp.headers["preference-applied"] == f"dynamic=true, seed={seed}"
        assert_valid(schema, resp.json())
        bodies.append(resp.json())
    assert len({repr(b) for b in bodies}) > 10, "dynamic data should vary with the seed"
    assert any(body["recent"] for body in bodies), "some bodies should list events"
    # Maps (additionalProperties) get the keys of the example: every event type, as real data.
    assert all(set(body["counts"]) == set(example("200")["counts"]) for body in bodies)
    again = client.get(ENGAGEMENT, headers={**BEARER, "Prefer": "dynamic=true, seed=3"})
    assert again.json() == bodies[3]


def test_dynamic_engagement_data_agrees_with_itself(client: TestClient) -> None:
    """The hook for getRenderEngagement: what the schema cannot say, the data still honours."""
    for seed in range(15):
        body = client.get(
            ENGAGEMENT, headers={**BEARER, "Prefer": f"dynamic=true, seed={seed}"}
        ).json()
        assert all(n >= 0 for n in body["counts"].values())
        assert body["total"] == sum(body["counts"].values())
        assert 0 <= body["linkOpens"] <= body["counts"]["viewed"]
        assert len(body["recent"]) <= body["total"]
        times = [event["createdAt"] for event in body["recent"]]
        assert times == sorted(times, reverse=True)


def test_a_hook_that_breaks_the_schema_is_a_500_naming_it() -> None:
    generator = Generator(SchemaCache())
    with pytest.raises(ProblemException) as raised:
        generator.checked({"type": "integer"}, "many", "getThing")
    assert raised.value.status == 500 and "hook for getThing" in str(raised.value.detail)


def test_dynamic_without_seed_varies_and_says_which_seed(client: TestClient) -> None:
    seeds = set()
    for _ in range(3):
        resp = client.get(ENGAGEMENT, headers={**BEARER, "Prefer": "dynamic=true"})
        applied = dict(p.split("=") for p in resp.headers["preference-applied"].split(", "))
        seeds.add(applied["seed"])
        replay = client.get(
            ENGAGEMENT, headers={**BEARER, "Prefer": f"dynamic=true, seed={applied['seed']}"}
        )
        assert replay.json() == resp.json()
    assert len(seeds) > 1


def test_generator_checks_what_it_generates() -> None:
    generator = Generator(SchemaCache())
    schema = {"type": "string", "format": "uuid"}
    assert_valid(schema, generator.generate(schema, 1))
    with pytest.raises(ProblemException) as raised:
        generator.generate({"type": "integer", "not": {"type": "integer"}}, 1)
    assert raised.value.status == 500


# --- Prism's query parameters -----------------------------------------------------------------


def test_prism_query_parameters_pass_strict_validation(client: TestClient) -> None:
    resp = client.get(f"{ENGAGEMENT}?__code=404", headers=BEARER)
    assert resp.status_code == 404 and resp.json() == example("404")
    resp = client.get(f"{ENGAGEMENT}?__dynamic=true&__seed=4", headers=BEARER)
    seeded = client.get(ENGAGEMENT, headers={**BEARER, "Prefer": "dynamic=true, seed=4"})
    assert resp.json() == seeded.json()
    shop = TestClient(create_mock_app(MockOptions(spec_path=str(SHOP))))
    assert shop.get("/orders?__example=empty&limit=2").json() == {"orders": []}
    # Anything else unknown is still refused, as on the real server.
    assert_envelope(
        client.get(f"{ENGAGEMENT}?__code=404&x=1", headers=BEARER), 400, "invalid_request"
    )


# --- requests validated as on the real server -------------------------------------------------


def test_non_uuid_id_is_a_400(client: TestClient) -> None:
    error = assert_envelope(
        client.get("/v1/renders/not-a-uuid/engagement", headers=BEARER), 400, "invalid_request"
    )
    assert error["issues"][0]["name"] == "id"


def test_unknown_query_parameter_is_a_400(client: TestClient) -> None:
    error = assert_envelope(
        client.get(f"{ENGAGEMENT}?limit=5", headers=BEARER), 400, "invalid_request"
    )
    assert error["issues"] == [
        {"in": "query", "name": "limit", "message": "unknown query parameter"}
    ]


@pytest.mark.parametrize("authorization", [None, "Basic abc", "Bearer ", "Bearer two words"])
def test_missing_or_malformed_bearer_is_a_401(
    client: TestClient, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    resp = client.get(ENGAGEMENT, headers=headers)
    assert_envelope(resp, 401, "unauthorized")
    assert resp.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("token", ["ck_test_abc", "ck_live_x-Y_z"])
def test_a_token_of_the_described_shape_is_accepted(client: TestClient, token: str) -> None:
    resp = client.get(ENGAGEMENT, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, token


@pytest.mark.parametrize("token", ["whatever", "ck_test_", "ck_prod_abc", "eyJhbGciOi.payload.sig"])
def test_a_token_of_another_shape_is_refused_as_the_real_server_does(
    client: TestClient, token: str
) -> None:
    """The contract's scheme describes `ck_live_…` or `ck_test_…`: the mock requires that shape."""
    resp = client.get(ENGAGEMENT, headers={"Authorization": f"Bearer {token}"})
    error = assert_envelope(resp, 401, "unauthorized")
    assert error["message"] == "Malformed API key: expected ck_live_… or ck_test_…."


def test_any_token_relaxes_the_shape(mock_client: Callable[..., TestClient]) -> None:
    relaxed = mock_client(any_token=True)
    for token in ("whatever", "eyJhbGciOi.payload.sig"):
        resp = relaxed.get(ENGAGEMENT, headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 200, token
    assert_envelope(
        relaxed.get(ENGAGEMENT, headers={"Authorization": "Bearer a b"}), 401, "unauthorized"
    )


def test_a_token_pattern_replaces_the_described_shape(
    mock_client: Callable[..., TestClient],
) -> None:
    custom = mock_client(token_pattern=r"tok-\d{3}")
    assert custom.get(ENGAGEMENT, headers={"Authorization": "Bearer tok-123"}).status_code == 200
    refused = custom.get(ENGAGEMENT, headers={"Authorization": "Bearer ck_test_abc"})
    assert "a token matching tok-\\d{3}" in assert_envelope(refused, 401, "unauthorized")["message"]


@pytest.mark.parametrize(
    ("description", "shape"),
    [
        (
            "Project API key (`ck_live_…` or `ck_test_…`) presented as a bearer token.",
            "ck_live_… or ck_test_…",
        ),
        ("Use sk_live_... or pk_xxxx tokens", "sk_live_… or pk_…"),
        ("A JWT from the identity provider.", "any token"),
        ("", "any token"),
    ],
)
def test_the_shape_is_read_from_the_schemes_description(description: str, shape: str) -> None:
    from api.mock.credentials import described_shape

    assert described_shape({"description": description}).described == shape


def test_keys_file_names_the_valid_tokens(
    mock_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text("# frontend team\nck_test_good\n\n")
    client = mock_client(keys_file=str(keys))
    good = client.get(ENGAGEMENT, headers={"Authorization": "Bearer ck_test_good"})
    assert good.status_code == 200
    bad = client.get(ENGAGEMENT, headers={"Authorization": "Bearer ck_test_other"})
    assert "--keys" in assert_envelope(bad, 401, "unauthorized")["message"]


@pytest.mark.parametrize(
    ("path", "credentials"),
    [
        ("/secured/key", {"X-API-Key": "ck_test_good"}),
        (
            "/secured/basic",
            {"Authorization": "Basic " + base64.b64encode(b"ann:ck_test_good").decode()},
        ),
        ("/secured/oauth", {"Authorization": "Bearer ck_test_good"}),
    ],
)
def test_other_security_schemes_are_mocked_too(
    mock_client: Callable[..., TestClient], tmp_path: Path, path: str, credentials: dict[str, str]
) -> None:
    """Connexion refuses every request to these without an `x-…InfoFunc`; the mock accepts
    present credentials, and with --keys only the listed ones."""
    shop = mock_client(SHOP)
    assert shop.get(path, headers=credentials).status_code == 200
    assert_envelope(shop.get(path), 401, "unauthorized")
    keys = tmp_path / "keys.txt"
    keys.write_text("ck_test_other\n")
    strict = mock_client(SHOP, keys_file=str(keys))
    assert_envelope(strict.get(path, headers=credentials), 401, "unauthorized")


def test_the_document_is_served_as_on_the_real_server(client: TestClient) -> None:
    assert client.get("/openapi.yaml").content == CONTRACT.read_bytes()
    assert client.get("/openapi.json").json() == yaml.safe_load(CONTRACT.read_text())


def test_unknown_path_and_wrong_method_use_the_envelope(client: TestClient) -> None:
    assert_envelope(client.get("/v1/nothing", headers=BEARER), 404, "not_found")
    assert_envelope(client.get(ENGAGEMENT + "/", headers=BEARER), 404, "not_found")
    resp = client.post(ENGAGEMENT, headers=BEARER)
    assert_envelope(resp, 405, "method_not_allowed")
    assert "GET" in resp.headers["allow"]


# --- CORS -------------------------------------------------------------------------------------


def test_preflight_allows_authorization_and_prefer(client: TestClient) -> None:
    resp = client.options(
        ENGAGEMENT,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization, prefer",
        },
    )
    assert resp.status_code == 200
    assert resp.headers["access-control-allow-origin"] == "*"
    assert "GET" in resp.headers["access-control-allow-methods"]
    allowed = {h.strip().lower() for h in resp.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "prefer"} <= allowed


def test_preflight_lists_only_the_paths_methods(mock_client: Callable[..., TestClient]) -> None:
    """Starlette lists every method it knows; Prism, and now the mock, the path's own."""
    ask = {"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
    engagement = mock_client().options(ENGAGEMENT, headers=ask)
    assert engagement.headers["access-control-allow-methods"] == "GET, HEAD, OPTIONS"
    shop = mock_client(SHOP)
    methods = {
        path: {m.upper() for m in item if m in ("get", "put", "post", "delete", "patch")}
        for path, item in yaml.safe_load(SHOP.read_text())["paths"].items()
    }
    (posted,) = [
        path for path, declared in methods.items() if "POST" in declared and "{" not in path
    ]
    answer = shop.options(posted, headers={**ask, "Access-Control-Request-Method": "POST"})
    listed = set(answer.headers["access-control-allow-methods"].split(", "))
    assert listed - {"HEAD", "OPTIONS"} == methods[posted]


@pytest.mark.parametrize(
    ("path", "method", "declared"),
    [(ENGAGEMENT, "DELETE", "GET, HEAD, OPTIONS"), ("/v1/nothing", "GET", "none: no operation")],
)
def test_a_preflight_for_an_undeclared_method_is_refused(
    client: TestClient, path: str, method: str, declared: str
) -> None:
    ask = {"Origin": ORIGIN, "Access-Control-Request-Method": method}
    error = assert_envelope(client.options(path, headers=ask), 403, "forbidden")
    assert (
        f"method '{method}' is not declared for this path (declared: {declared}" in error["message"]
    )


@pytest.mark.parametrize(
    ("headers", "status"),
    [(BEARER, 200), ({}, 401), ({**BEARER, "Prefer": "code=418"}, 400)],
)
def test_answers_and_error_envelopes_carry_cors_headers(
    client: TestClient, headers: dict[str, str], status: int
) -> None:
    resp = client.get(ENGAGEMENT, headers={**headers, "Origin": ORIGIN})
    assert resp.status_code == status
    assert resp.headers["access-control-allow-origin"] == "*"
    assert "Preference-Applied" in resp.headers["access-control-expose-headers"]


def test_cors_origin_restricts_origins(mock_client: Callable[..., TestClient]) -> None:
    client = mock_client(cors_origins=(ORIGIN,))
    ok = client.get(ENGAGEMENT, headers={**BEARER, "Origin": ORIGIN})
    assert ok.headers["access-control-allow-origin"] == ORIGIN
    other = client.get(ENGAGEMENT, headers={**BEARER, "Origin": "http://evil.test"})
    assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize(
    ("options", "request_headers", "refused", "named"),
    [
        ({}, {"Origin": "http://evil.test"}, ["Origin"], "origin 'http://evil.test'"),
        (
            {"allow_methods": ["GET"], "allow_headers": ["authorization"]},
            {
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": "authorization, x-debug",
            },
            ["Access-Control-Request-Method", "Access-Control-Request-Headers"],
            "method 'PUT' is not allowed; headers not allowed: x-debug.",
        ),
    ],
)
def test_a_refused_preflight_is_the_envelope_saying_why(
    options: dict[str, Any], request_headers: dict[str, str], refused: list[str], named: str
) -> None:
    """Starlette answers these with a plain-text 400; every error here is the envelope."""
    from starlette.applications import Starlette

    from api.mock.app import MockCORS

    cors = MockCORS(Starlette(), allow_origins=[ORIGIN], **options)
    preflight = TestClient(cors).options(
        ENGAGEMENT, headers={"Access-Control-Request-Method": "GET", **request_headers}
    )
    error = assert_envelope(preflight, 403, "forbidden")
    assert [issue["name"] for issue in error["issues"]] == refused
    assert error["message"].startswith("CORS preflight refused: ") and named in error["message"]


def test_the_mock_refuses_a_preflight_from_another_origin_with_the_envelope(
    mock_client: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="craftkit.mock")
    client = mock_client(cors_origins=(ORIGIN,))
    preflight = client.options(
        ENGAGEMENT,
        headers={"Origin": "http://evil.test", "Access-Control-Request-Method": "GET"},
    )
    error = assert_envelope(preflight, 403, "forbidden")
    assert "'http://evil.test' is not allowed (allowed: http://localhost:5173)" in error["message"]
    allowed = {"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
    assert client.options(ENGAGEMENT, headers=allowed).status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "craftkit.mock"]
    assert lines[0].startswith(f"OPTIONS {ENGAGEMENT} -> 403 CORS preflight ")
    assert lines[1].startswith(f"OPTIONS {ENGAGEMENT} -> 200 CORS preflight ")


def test_preflights_are_not_delayed(mock_client: Callable[..., TestClient]) -> None:
    client = mock_client(delay_ms=500)
    started = time.monotonic()
    allowed = {"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
    assert client.options(ENGAGEMENT, headers=allowed).status_code == 200
    assert time.monotonic() - started < 0.5


def test_exposed_headers_include_the_specs_response_headers(
    mock_client: Callable[..., TestClient],
) -> None:
    resp = mock_client(SHOP).get("/orders", headers={"Origin": ORIGIN})
    assert "X-Total-Count" in resp.headers["access-control-expose-headers"]


# --- delay and log ----------------------------------------------------------------------------


def test_delay_holds_every_answer(mock_client: Callable[..., TestClient]) -> None:
    client = mock_client(delay_ms=300)
    started = time.monotonic()
    assert client.get(ENGAGEMENT, headers=BEARER).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_one_log_line_per_call(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="craftkit.mock")
    client.get(ENGAGEMENT, headers=BEARER)
    client.get(ENGAGEMENT, headers={**BEARER, "Prefer": "code=404"})
    client.get(ENGAGEMENT, headers={**BEARER, "Prefer": "dynamic=true, seed=9"})
    client.get(ENGAGEMENT)
    lines = [r.getMessage() for r in caplog.records if r.name == "craftkit.mock"]
    assert len(lines) == 4
    assert lines[0].startswith(f"GET {ENGAGEMENT} -> 200 example ")
    assert lines[1].startswith(f"GET {ENGAGEMENT} -> 404 example ")
    assert lines[2].startswith(f"GET {ENGAGEMENT} -> 200 generated (seed 9) ")
    assert lines[3].startswith(f"GET {ENGAGEMENT} -> 401 error envelope ")


def test_generated_times_do_not_follow_the_clock() -> None:
    """A seed replays the same body later too (Faker's own date-times depend on now)."""
    generator = Generator(SchemaCache())
    schema = {
        "type": "array",
        "minItems": 3,
        "items": {
            "type": "object",
            "required": ["at", "on"],
            "properties": {
                "at": {"type": "string", "format": "date-time"},
                "on": {"type": "string", "format": "date"},
            },
        },
    }
    first = generator.generate(schema, 5)
    time.sleep(0.05)
    assert generator.generate(schema, 5) == first
    assert_valid(schema, first)
    assert all(item["at"].startswith("2026-") and item["at"].endswith("Z") for item in first)


def test_a_spec_that_cannot_be_loaded_is_a_503_naming_the_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """What a `--watch` reload serves until the spec is fixed, instead of losing its worker."""
    from api.mock import OPTIONS_ENV, app, app_from_env

    monkeypatch.setattr(app, "configure_logging", lambda: app.logger)  # caplog is enough here
    spec = tmp_path / "openapi.yaml"
    spec.write_text("openapi: 3.1.0\npaths: {\n")
    monkeypatch.setenv(OPTIONS_ENV, MockOptions(spec_path=str(spec)).to_env())
    client = TestClient(app_from_env())
    problem = f"{spec}: not valid YAML or JSON: "
    for resp in (client.get(ENGAGEMENT), client.post("/anything", headers={"Origin": ORIGIN})):
        message = assert_envelope(resp, 503, "service_unavailable")["message"]
        assert problem in message and message.endswith("at line 3, column 1")
    assert resp.headers["access-control-allow-origin"] == "*"
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is None
