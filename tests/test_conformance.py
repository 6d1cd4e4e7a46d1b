"""Answers the contract documents, on both app kinds (issue 16, items 7-9 and 11-14).

Each test sends what an outside validator (openapi-core, Prism, stock Schemathesis) flagged
and checks the documented answer, with a request that must still be refused beside it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from api import errors
from api.protocol import bounds, deadline
from api.server.app import create_app
from tests.support import assert_small_envelope as assert_envelope


def _get(client: Any, path: str, **kwargs: Any) -> Any:
    return client.request(kwargs.pop("method", "GET"), f"http://testserver{path}", **kwargs)


@pytest.fixture
def own(tenant: dict[str, Any], make_render: Any) -> dict[str, Any]:
    return {**tenant, "render": make_render(tenant["project"], "test")}


MISSING = "5f0c6a52-4d0e-4b8a-9a57-1d3c2e7b9f10"


# --- 7: a malformed id is the documented 404, the same bytes as a missing render ---------


@pytest.mark.parametrize(
    "bad_id",
    [
        "abc",
        "5f0c6a524d0e4b8a9a571d3c2e7b9f10",
        "%7B5f0c6a52-4d0e-4b8a-9a57-1d3c2e7b9f10%7D",
        "a%00",
        "urn:uuid:5f0c6a52-4d0e-4b8a-9a57-1d3c2e7b9f10",
    ],
)
def test_a_malformed_id_is_the_same_404_as_a_missing_render(
    client: Any, own: dict, bad_id: str
) -> None:
    missing = _get(client, f"/v1/renders/{MISSING}/engagement", headers=own["headers"])
    assert_envelope(missing, 404, "not_found")
    response = _get(client, f"/v1/renders/{bad_id}/engagement", headers=own["headers"])
    assert response.status_code == 404
    assert response.content == missing.content
    # Without a key it is the 401, as for any render.
    assert_envelope(_get(client, f"/v1/renders/{bad_id}/engagement"), 401, "unauthorized")


# --- 8: unknown query parameters are ignored unless CRAFTKIT_STRICT_QUERY -----------------


@pytest.mark.parametrize("query", ["foo=bar", "_=1700000000000", "&&&&&&&&&&&&&&&&&&&&", "&"])
def test_unknown_or_empty_query_parameters_are_ignored(client: Any, own: dict, query: str) -> None:
    response = _get(
        client, f"/v1/renders/{own['render']}/engagement?{query}", headers=own["headers"]
    )
    assert response.status_code == 200, response.text


def test_strict_query_refuses_unknown_parameters(settings: Any, own: dict) -> None:
    app = create_app(replace(settings, strict_query=True))
    with TestClient(app) as client:
        path = f"/v1/renders/{own['render']}/engagement"
        response = _get(client, f"{path}?foo=bar", headers=own["headers"])
        error = assert_envelope(response, 400, "invalid_request")
        assert error["issues"][0]["name"] == "foo"
        assert _get(client, path, headers=own["headers"]).status_code == 200


def test_too_many_parameters_counts_parameters_not_separators(client: Any, own: dict) -> None:
    many = "&".join(f"p{i}=1" for i in range(bounds.QUERY_PARAMETERS.limit + 1))
    response = _get(
        client, f"/v1/renders/{own['render']}/engagement?{many}", headers=own["headers"]
    )
    assert_envelope(response, 400, "invalid_request")


# --- 9: %2F is data inside a segment ------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/v1/renders/{R}%2Fengagement",
        "/v1%2Frenders%2F{R}%2Fengagement",
        "/v1/renders%2f{R}/engagement",
    ],
)
def test_an_encoded_slash_matches_no_path(client: Any, own: dict, path: str) -> None:
    response = _get(client, path.replace("{R}", own["render"]), headers=own["headers"])
    assert_envelope(response, 404, "not_found")
    plain = _get(client, f"/v1/renders/{own['render']}/engagement", headers=own["headers"])
    assert plain.status_code == 200


# --- 11: WWW-Authenticate per RFC 6750 §3 -------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "challenge"),
    [
        (None, "Bearer"),
        ("Bearer ck_test_" + "A" * 32, 'Bearer error="invalid_token"'),
        ("Bearer not-a-key", 'Bearer error="invalid_token"'),
    ],
)
def test_www_authenticate_says_invalid_token_only_for_a_bad_token(
    client: Any, own: dict, authorization: str | None, challenge: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = _get(client, f"/v1/renders/{own['render']}/engagement", headers=headers)
    assert_envelope(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == challenge


# --- 12: an authenticated answer is never stored by a shared cache -----------------------


def test_the_summary_is_no_store(client: Any, own: dict) -> None:
    response = _get(client, f"/v1/renders/{own['render']}/engagement", headers=own["headers"])
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"


# --- 13: the document's routes answer 405 with Allow to other methods --------------------


@pytest.mark.parametrize("route", ["/openapi.json", "/openapi.yaml"])
@pytest.mark.parametrize("method", ["POST", "DELETE", "OPTIONS", "PUT"])
def test_the_document_routes_are_405_to_other_methods(client: Any, route: str, method: str) -> None:
    response = _get(client, route, method=method)
    assert_envelope(response, 405, "method_not_allowed")
    assert sorted(response.headers["allow"].split(", ")) == ["GET", "HEAD"]
    assert _get(client, route).status_code == 200


# --- 14: the target bound counts the `?`; the deadline's 503 is like every envelope --------


def test_the_target_bound_counts_the_question_mark(client: Any, own: dict) -> None:
    limit = bounds.REQUEST_TARGET.limit
    base = f"/v1/renders/{own['render']}/engagement"
    at_limit = f"{base}?p=" + "x" * (limit - len(base) - 3)
    assert len(at_limit) == limit
    assert _get(client, at_limit, headers=own["headers"]).status_code == 200
    over = at_limit + "x"
    assert_envelope(_get(client, over, headers=own["headers"]), 414, "uri_too_long")


def test_the_deadline_envelope_is_written_like_every_other() -> None:
    expected = errors.envelope(503, errors.MESSAGES[503]).body
    assert expected == deadline.BODY
    assert orjson.loads(deadline.BODY)["error"]["code"] == "service_unavailable"
