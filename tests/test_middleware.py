"""api/protocol/middleware.py: exact routing, no line feeds, HEAD as GET, one stack per app."""

from __future__ import annotations

import uuid

import pytest

from api.openapi.connexion_shim import middleware_list
from api.server.app import create_app
from tests.support import assert_envelope, url


@pytest.mark.parametrize("bad_id", ["a%0Ab", "%0A", "ab%0A"])
def test_a_line_feed_in_the_path_gets_404_not_500(client, tenant, bad_id):
    # Connexion's router and Flask's disagreed on these (found by the contract tests).
    assert_envelope(client.get(url(bad_id), headers=tenant["headers"]), 404, "not_found")


# --- routing errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/nope",
        "/v1/renders",
        "/v1/renders/x/engagement/extra",
        "/",
        f"/v1/renders/{uuid.UUID(int=1)}/engagement/",  # no redirect to the slashless path
        "/openapi.json/",
    ],
)
def test_unknown_paths_get_404_envelopes(client, tenant, path):
    resp = client.get(path, headers=tenant["headers"], follow_redirects=False)
    assert_envelope(resp, 404, "not_found")


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_wrong_methods_get_405_with_allow(client, tenant, make_render, method):
    render = make_render(tenant["project"])
    resp = client.request(method, url(render), headers=tenant["headers"])
    assert_envelope(resp, 405, "method_not_allowed")
    assert {m.strip() for m in resp.headers["allow"].split(",")} == {"GET", "HEAD"}


def test_head_answers_as_get_without_a_body(client, tenant, make_render):
    render = make_render(tenant["project"])
    get = client.get(url(render), headers=tenant["headers"])
    head = client.head(url(render), headers=tenant["headers"])
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == "application/json"
    assert head.headers["content-length"] == get.headers["content-length"]
    assert client.head(url(render)).status_code == 401
    assert client.head("/nope").status_code == 404


def test_each_app_has_its_own_middleware_stack(settings):
    """Connexion inserts middleware into the list it is given; apps must not share one."""
    from api.protocol.middleware import HeadAsGet

    first, second = create_app(settings), create_app(settings)
    for app in (first, second):
        stack = [getattr(m, "func", m) for m in middleware_list(app)]  # partial(cls)
        assert stack.count(HeadAsGet) == 1
    assert middleware_list(first) is not middleware_list(second)
