"""api/protocol/guards.py and the hostile-input table: each request a small 4xx envelope or a 2xx.

The decisions this table records (SECURITY.md, "Bounds" and "Render ids"):
- a render id is the canonical hyphenated UUID, hex in either case (RFC 4122 §3: case-
  insensitive on input), so an uppercase id reads the same render; braced, unhyphenated or
  `urn:uuid:` forms name no render: the documented 404, as a missing one;
- `%2F` is data inside a segment (RFC 3986), so a path that holds one matches nothing: 404;
- query parameters the contract does not declare are ignored; more than 16 are 400;
- a path is matched exactly: repeated or trailing slashes are 404, never a redirect;
- a request body is refused (413): no operation of the contract takes one;
- one `Authorization` header: two are 401, whatever they hold.
"""

from __future__ import annotations

import re
from typing import Any

import connexion
import pytest
from starlette.testclient import TestClient

from api.openapi.connexion_shim import registered_routes
from api.server.app import OPERATIONAL_ROUTES, create_app
from tests.support import assert_small_envelope as assert_envelope

ENGAGEMENT = "/v1/renders/{id}/engagement"


def _get(client: Any, path: str, **kwargs: Any) -> Any:
    # A full URL keeps a leading "//" as a path, not a protocol-relative host.
    return client.request(kwargs.pop("method", "GET"), f"http://testserver{path}", **kwargs)


@pytest.fixture
def own(tenant: dict[str, Any], make_render: Any) -> dict[str, Any]:
    return {**tenant, "render": make_render(tenant["project"], "test")}


HOSTILE = [
    # (label, path built from render id R, extra request kwargs, headers?, status, code)
    ("doubled leading slash, no key", "//v1/renders/{R}/engagement", {}, False, 404, "not_found"),
    ("doubled leading slash, key", "//v1/renders/{R}/engagement", {}, True, 404, "not_found"),
    ("doubled inner slash", "/v1//renders/{R}/engagement", {}, True, 404, "not_found"),
    ("doubled slash before id", "/v1/renders//{R}/engagement", {}, True, 404, "not_found"),
    ("trailing slash", "/v1/renders/{R}/engagement/", {}, True, 404, "not_found"),
    ("dot-dot encoded slash", "/v1/renders/..%2f..%2fetc/engagement", {}, True, 404, None),
    ("NUL in id", "/v1/renders/{R}%00/engagement", {}, True, 404, "not_found"),
    ("braced uuid", "/v1/renders/%7B{R}%7D/engagement", {}, True, 404, "not_found"),
    ("urn uuid", "/v1/renders/urn:uuid:{R}/engagement", {}, True, 404, "not_found"),
    ("encoded slash", "/v1/renders/{R}%2Fengagement", {}, True, 404, "not_found"),
    ("encoded slashes", "/v1%2Frenders%2F{R}%2Fengagement", {}, True, 404, "not_found"),
    ("overlong path", "/v1/renders/" + "a" * 9000 + "/engagement", {}, True, 414, None),
    (
        "6,000 query parameters",
        "/v1/renders/{R}/engagement?" + "&".join(f"p{i}=1" for i in range(6000)),
        {},
        True,
        414,
        "uri_too_long",
    ),
    (
        "20 query parameters",
        "/v1/renders/{R}/engagement?" + "&".join(f"p{i}=1" for i in range(20)),
        {},
        True,
        400,
        "invalid_request",
    ),
    (
        "access_token in the query",
        "/v1/renders/{R}/engagement?access_token={KEY}",
        {},
        False,
        401,
        "unauthorized",
    ),
    ("OPTIONS", "/v1/renders/{R}/engagement", {"method": "OPTIONS"}, True, 405, None),
    ("TRACE", "/v1/renders/{R}/engagement", {"method": "TRACE"}, True, 405, None),
    ("a body on GET", "/v1/renders/{R}/engagement", {"content": b'{"a": 1}'}, True, 413, None),
    (
        "overlong header",
        "/v1/renders/{R}/engagement",
        {"headers": {"X-Pad": "x" * 12000}},
        True,
        431,
        None,
    ),
]


@pytest.mark.parametrize(
    ("path", "kwargs", "with_key", "status", "code"),
    [row[1:] for row in HOSTILE],
    ids=[row[0] for row in HOSTILE],
)
def test_hostile_request_gets_a_small_envelope(
    client: Any,
    own: dict[str, Any],
    path: str,
    kwargs: dict,
    with_key: bool,
    status: int,
    code: str | None,
) -> None:
    kwargs = dict(kwargs)  # the table's dicts are shared by every backend's run
    headers = dict(kwargs.pop("headers", {}))
    if with_key:
        headers.update(own["headers"])
    path = path.replace("{R}", own["render"]).replace("{KEY}", own["key"])
    response = _get(client, path, headers=headers, **kwargs)
    assert_envelope(response, status, code)


def test_repeated_slashes_with_a_foreign_host_echo_nothing(client: Any, own: dict) -> None:
    response = _get(
        client, f"/v1//renders/{own['render']}/engagement", headers={"Host": "evil.example"}
    )
    assert_envelope(response, 404, "not_found")
    assert "evil.example" not in response.text


@pytest.mark.parametrize("variant", ["upper", "mixed"])
def test_an_uppercase_uuid_reads_the_same_render(client: Any, own: dict, variant: str) -> None:
    render = (
        own["render"].upper()
        if variant == "upper"
        else own["render"][:8].upper() + own["render"][8:]
    )
    response = _get(client, f"/v1/renders/{render}/engagement", headers=own["headers"])
    assert response.status_code == 200
    assert (
        response.json()
        == _get(client, f"/v1/renders/{own['render']}/engagement", headers=own["headers"]).json()
    )


def test_an_unhyphenated_uuid_is_404(client: Any, own: dict) -> None:
    path = f"/v1/renders/{own['render'].replace('-', '')}/engagement"
    assert_envelope(_get(client, path, headers=own["headers"]), 404, "not_found")


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Bearer ck_test_é".encode(), id="non-ASCII key"),
        pytest.param(b"Bearer \xff\xfe", id="non-UTF-8 key"),
        pytest.param(b"Basic dXNlcjpwYXNz", id="another scheme"),
    ],
)
def test_strange_authorization_is_401(client: Any, own: dict, authorization: bytes) -> None:
    response = client.get(
        f"/v1/renders/{own['render']}/engagement", headers={"Authorization": authorization}
    )
    assert_envelope(response, 401, "unauthorized")


def test_two_authorization_headers_are_401_even_when_one_is_valid(client: Any, own: dict) -> None:
    valid = own["headers"]["Authorization"]
    for pair in ([valid, "Bearer ck_test_nope"], ["Bearer ck_test_nope", valid], [valid, valid]):
        response = client.get(
            f"/v1/renders/{own['render']}/engagement",
            headers=[("Authorization", value) for value in pair],
        )
        assert_envelope(response, 401, "unauthorized")


def test_head_is_get_without_a_body(client: Any, own: dict) -> None:
    response = client.head(f"/v1/renders/{own['render']}/engagement", headers=own["headers"])
    assert response.status_code == 200 and response.content == b""


def test_the_body_check_would_catch_an_accepted_body(client: Any, own: dict) -> None:
    """Guard for the table: the same GET without a body is a 200, so the 413 is the body's."""
    response = client.get(f"/v1/renders/{own['render']}/engagement", headers=own["headers"])
    assert response.status_code == 200


def _registered_paths(app: Any) -> list[str]:
    """Every path the app's framework registers, with a UUID for each parameter."""
    paths = {path for path, _method in registered_routes(app)}
    return sorted(re.sub(r"<[^>]+>", "5f0c6a52-4d0e-4b8a-9a57-1d3c2e7b9f10", p) for p in paths)


@pytest.mark.parametrize("app_class", [connexion.FlaskApp, connexion.AsyncApp])
def test_every_registered_route_is_reached_only_exactly(settings: Any, app_class: Any) -> None:
    """Each route with any one slash doubled is the 404 envelope: no view runs outside Connexion.

    The routes are those the framework registers plus those answered before routing (health);
    contract_tests/test_static.py proves each is a contract operation or a named operational
    route. With no key, the contract's operation is 401 and the operational routes answer; a
    doubled slash anywhere must not reach either (Werkzeug merged them, then ran the view with
    no security or validation, row 2 of issue 8).
    """
    app = create_app(settings, app_class=app_class)
    with TestClient(app, follow_redirects=False) as client:
        registered = _registered_paths(app)
        _walk(client, registered + [r for r in OPERATIONAL_ROUTES if r not in registered])
    assert any(p.startswith("/v1/") for p in registered), registered


def _walk(client: Any, paths: list[str]) -> None:
    for path in paths:
        exact = _get(client, path)
        assert exact.status_code in (200, 401, 503), (path, exact.status_code)
        slashes = [i for i, char in enumerate(path) if char == "/"]
        for i in slashes:
            doubled = path[:i] + "/" + path[i:]
            assert_envelope(_get(client, doubled), 404, "not_found")


def test_the_mock_has_the_same_exact_paths_and_bounds() -> None:
    """The mock is assembled by the same assemble(): the guards hold there too."""
    from api.mock.app import MockOptions, create_mock_app
    from tests.support import ROOT

    app = create_mock_app(MockOptions(spec_path=str(ROOT / "openapi.yaml")))
    render = "5f0c6a52-4d0e-4b8a-9a57-1d3c2e7b9f10"
    headers = {"Authorization": "Bearer ck_test_anything"}
    with TestClient(app, follow_redirects=False) as client:
        assert _get(client, f"/v1/renders/{render}/engagement", headers=headers).status_code == 200
        assert_envelope(_get(client, f"//v1/renders/{render}/engagement"), 404, "not_found")
        many = "&".join(f"p{i}=1" for i in range(6000))
        response = _get(client, f"/v1/renders/{render}/engagement?{many}", headers=headers)
        assert_envelope(response, 414, "uri_too_long")
        response = _get(
            client, f"/v1/renders/{render}/engagement", headers={**headers, "X-Pad": "x" * 9000}
        )
        assert_envelope(response, 431, "headers_too_large")
