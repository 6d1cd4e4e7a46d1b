"""A 5 MB spec made of a real one's operations (Twilio's, repeated under renamed prefixes, as
`python -m bench.mock_startup` builds it) loads and is served in full. How long it takes is
measured by that script and written in docs/mock.md; nothing here is timed."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from api.mock import MockOptions, create_mock_app
from api.openapi.spec import OpenAPI31Specification
from bench.mock_startup import TARGET, large_spec

ACCOUNT = "AC" + "a" * 32


def test_a_5_mb_spec_is_served(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="craftkit.mock")  # Twilio's examples, warned per copy
    spec_path = tmp_path / "large.yaml"
    operations = large_spec(spec_path)
    assert spec_path.stat().st_size >= TARGET
    spec = OpenAPI31Specification.from_path(spec_path)
    assert sum(1 for _ in spec.operations()) == operations > 700
    client = TestClient(create_mock_app(MockOptions(spec_path=str(spec_path))))
    auth = ("user", "secret")
    for prefix in ("/2010-04-01", "/copy1-04-01", "/copy3-04-01"):
        resp = client.get(f"{prefix}/Accounts/{ACCOUNT}/Calls.json", auth=auth)
        assert resp.status_code == 200, resp.text
        assert "calls" in resp.json()
    assert client.get("/copy4-04-01/Accounts.json", auth=auth).status_code == 404
