"""Bearer API keys over HTTP: every bad credential is a 401 envelope; keys never logged."""

from __future__ import annotations

import logging

import pytest

from db import keys, queries
from db.connection import connection
from tests.support import assert_envelope, url

# --- authentication -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        (None, "Missing Bearer token."),
        ("Basic dXNlcjpwYXNz", "Missing Bearer token."),
        ("Bearer", "Missing Bearer token."),
        ("Bearer ck_test_short", "Malformed API key: expected ck_live_… or ck_test_…."),
        (
            "Bearer sk_test_abcdefghijklmnopqrstuvwxyz",
            "Malformed API key: expected ck_live_… or ck_test_….",
        ),
        ("Bearer ck_test_" + "A" * 32, "Invalid or revoked API key."),
    ],
)
def test_bad_credentials_get_401_envelopes(client, tenant, make_render, authorization, message):
    render = make_render(tenant["project"])
    headers = {"Authorization": authorization} if authorization else {}
    resp = client.get(url(render), headers=headers)
    assert_envelope(resp, 401, "unauthorized", message)
    assert resp.headers["www-authenticate"] == "Bearer"


def test_a_revoked_key_gets_401_at_once(client, tenant, make_render):
    render = make_render(tenant["project"])
    assert client.get(url(render), headers=tenant["headers"]).status_code == 200
    with connection():
        queries.revoke_key(digest=keys.digest(tenant["key"]))
    resp = client.get(url(render), headers=tenant["headers"])
    assert_envelope(resp, 401, "unauthorized", "Invalid or revoked API key.")


def test_keys_never_appear_in_logs(client, tenant, make_render, caplog):
    caplog.set_level(logging.DEBUG)
    render = make_render(tenant["project"])
    client.get(url(render), headers=tenant["headers"])
    client.get(url("not-a-uuid"), headers=tenant["headers"])
    bad_key = "ck_live_" + "Z" * 30
    client.get(url(render), headers={"Authorization": f"Bearer {bad_key}"})
    assert caplog.records, "expected some log output to inspect"
    assert tenant["key"] not in caplog.text
    assert bad_key not in caplog.text
