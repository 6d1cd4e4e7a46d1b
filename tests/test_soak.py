"""The soak in five seconds: `make soak` runs the same for 30 s (bench/soak.py)."""

from __future__ import annotations

import uuid

from bench.soak import run_soak
from tests.private_postgres import PrivatePostgres, private_postgres  # noqa: F401


def test_five_seconds_of_mixed_traffic_while_ingesting(private_postgres: PrivatePostgres) -> None:  # noqa: F811
    name = f"soak_{uuid.uuid4().hex[:8]}"
    private_postgres.create_database(name)
    url = private_postgres.url.rsplit("/", 1)[0] + f"/{name}"
    result = run_soak(url, seconds=5, connections=64, events=10_000)
    print(result.summary())
    assert result.tally.requests > 100, result.summary()
    assert result.ok, result.summary()
