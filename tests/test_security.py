"""Bearer API keys over HTTP: every bad credential is a 401 envelope; keys never logged."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

import pytest
from starlette.testclient import TestClient

from api.security import InvalidApiKey
from api.server.app import create_app
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
    # RFC 6750 §3: a token that was sent and refused says so; no token, no error code.
    sent = message != "Missing Bearer token."
    challenge = 'Bearer error="invalid_token"' if sent else "Bearer"
    assert resp.headers["www-authenticate"] == challenge


def test_without_a_key_cache_a_revoked_key_gets_401_at_once(settings, tenant, make_render):
    render = make_render(tenant["project"])
    with TestClient(create_app(replace(settings, key_cache_seconds=0))) as client:
        assert client.get(url(render), headers=tenant["headers"]).status_code == 200
        with connection():
            queries.revoke_key(digest=keys.digest(tenant["key"]))
        resp = client.get(url(render), headers=tenant["headers"])
    assert_envelope(resp, 401, "unauthorized", "Invalid or revoked API key.")


def test_a_revoked_key_is_refused_once_the_key_cache_time_has_passed(settings, tenant, make_render):
    render = make_render(tenant["project"])
    with TestClient(create_app(replace(settings, key_cache_seconds=0.3))) as client:
        assert client.get(url(render), headers=tenant["headers"]).status_code == 200
        with connection():
            queries.revoke_key(digest=keys.digest(tenant["key"]))
        time.sleep(0.4)  # CRAFTKIT_KEY_CACHE_SECONDS later
        resp = client.get(url(render), headers=tenant["headers"])
    assert_envelope(resp, 401, "unauthorized", "Invalid or revoked API key.")


def test_the_key_cache_keeps_valid_keys_for_its_time_only_and_never_unknown_ones(monkeypatch):
    """KeyLookup on a fake clock: when it asks the database, and when it does not."""
    import asyncio

    from api.server import app as app_module
    from api.server.app import KeyLookup

    asked: list[str] = []
    known = {keys.digest("ck_test_" + "k" * 32): queries.KeyOwner(1, 2, "test")}

    class Work:
        async def read(self, fn: Any, on_loop: Any, digest: str) -> Any:
            asked.append(digest)
            return known.get(digest)

    monkeypatch.setattr(app_module.dbwork, "current", lambda: Work())
    now = [100.0]
    lookup = KeyLookup(ttl=1.0, clock=lambda: now[0])
    good, unknown = "ck_test_" + "k" * 32, "ck_test_" + "u" * 32

    async def ask(token: str) -> Any:
        try:
            return (await lookup(token))["owner"]
        except InvalidApiKey:
            return None

    async def scenario() -> list[Any]:
        answers = [await ask(good), await ask(unknown), await ask(unknown)]
        now[0] += 0.9
        answers.append(await ask(good))  # still trusted: no lookup
        now[0] += 0.2
        answers.append(await ask(good))  # its second is up: looked up again
        return answers

    answers = asyncio.run(scenario())
    owner = known[keys.digest(good)]
    assert answers == [owner, None, None, owner, owner]
    assert asked == [keys.digest(good), *[keys.digest(unknown)] * 2, keys.digest(good)]


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
