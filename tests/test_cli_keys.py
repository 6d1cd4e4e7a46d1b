"""cli/keys.py: `craftkit keys …`, and what a revoked key gets over HTTP."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from starlette.testclient import TestClient

from api.server.app import create_app
from db import keys
from db.connection import connection
from db.models import ApiKey
from tests.support import failed, ok


def test_keys_create_prints_the_key_once_and_stores_only_its_digest(cli, acme, database_url):
    result = cli("keys", "create", "--project", "acme", "--mode", "live")
    key = ok(result).strip()
    assert keys.key_mode(key) == "live"
    assert "not shown again" in result.stderr
    with connection():
        row = ApiKey.get()
        assert row.digest == keys.digest(key)
        assert key.startswith(row.display_prefix) and len(row.display_prefix) < len(key) // 2
        stored = json.dumps([list(r) for r in ApiKey.select().tuples()], default=str)
    assert key not in stored
    if database_url.startswith("sqlite:///"):
        raw = Path(database_url.removeprefix("sqlite:///")).read_bytes()
        assert key.encode() not in raw


def test_keys_list_shows_prefix_mode_and_revocation_never_the_key(cli, acme):
    live = ok(cli("keys", "create", "--project", "acme", "--mode", "live")).strip()
    test = ok(cli("keys", "create", "--project", "acme", "--mode", "test")).strip()
    listing = ok(cli("keys", "list", "--project", "acme"))
    assert live not in listing and test not in listing
    assert keys.display_prefix(live) + "…" in listing
    assert keys.display_prefix(test) + "…" in listing
    assert listing.count(" - \n") + listing.count(" -\n") == 2  # neither revoked

    ok(cli("keys", "revoke", keys.display_prefix(live) + "…"))
    rows = {
        row.split()[0]: row for row in ok(cli("keys", "list", "--project", "acme")).splitlines()
    }
    assert rows[keys.display_prefix(live) + "…"].rstrip().endswith("Z")  # revoked at
    assert rows[keys.display_prefix(test) + "…"].rstrip().endswith("-")


def test_revoked_key_gets_401_at_once(cli, acme, settings):
    """At once with CRAFTKIT_KEY_CACHE_SECONDS=0; within that time otherwise (test_security)."""
    key = ok(cli("keys", "create", "--project", "acme", "--mode", "test")).strip()
    url = f"/v1/renders/{acme['render']}/engagement"
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(replace(settings, key_cache_seconds=0))) as client:
        assert client.get(url, headers=headers).status_code == 200
        assert "Revoked" in ok(cli("keys", "revoke", key))
        resp = client.get(url, headers=headers)
    assert "was already revoked at 20" in ok(cli("keys", "revoke", key))  # idempotent, and says so
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "unauthorized"


def test_revoking_an_unknown_key_fails_clearly(cli, acme):
    assert "No API key matches" in failed(cli("keys", "revoke", "ck_test_nothing"))
    missing = keys.generate_key("test").plaintext
    message = failed(cli("keys", "revoke", missing))
    assert "No API key matches" in message
    assert missing not in message  # a key is never echoed back
