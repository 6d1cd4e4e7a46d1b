"""Fixtures: a seeded database (SQLite; PostgreSQL too when CRAFTKIT_TEST_POSTGRES_URL is set),
the app built by the same factory users run, and a helper that runs the contract suite on it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import schemathesis

from api.config import APP_KINDS, Settings
from api.server.app import create_app
from contract_tests import engine as contract
from contract_tests.seed import Seeded, seed
from db.connection import bind, database_for
from db.migrations import recreate_schema
from tests.support import ROOT, postgres_url_for_tests

POSTGRES_URL = postgres_url_for_tests()
UNKNOWN_KEY = "ck_test_" + "A" * 32
# `make contract-deep` sets this to run many more examples per operation and phase.
MAX_EXAMPLES = int(os.environ.get("CRAFTKIT_CONTRACT_MAX_EXAMPLES", "0")) or None
# ... and this to explore other cases than schemathesis.toml's fixed seed sends.
SEED = int(os.environ.get("CRAFTKIT_CONTRACT_SEED", "0")) or None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database_url" in metafunc.fixturenames:
        backends = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])
        metafunc.parametrize("backend", backends, scope="module")
    if "app_kind" in metafunc.fixturenames:
        metafunc.parametrize("app_kind", APP_KINDS, scope="module")


@pytest.fixture(scope="module")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('contract') / 'craftkit.db'}"
    else:
        assert POSTGRES_URL
        url = POSTGRES_URL
    db = database_for(url)
    bind(db)  # the seeding's queries; the app binds its own database per request
    recreate_schema()
    yield url
    if not db.is_closed():
        db.close()
    bind(None)


@pytest.fixture(scope="module")
def seeded(database_url: str) -> Seeded:
    return seed()


@pytest.fixture(scope="module")
def settings(database_url: str) -> Settings:
    return Settings.from_env({}, database_url=database_url, spec_path=str(ROOT / "openapi.yaml"))


@pytest.fixture(scope="module")
def app(settings: Settings, seeded: Seeded, app_kind: str) -> Any:
    """The app as served, once as AsyncApp (the default) and once as FlaskApp (CRAFTKIT_APP)."""
    return create_app(replace(settings, app=app_kind))


@pytest.fixture(scope="module")
def credentials(seeded: Seeded) -> contract.Credentials:
    return contract.Credentials.from_keys(
        seeded.key, seeded.foreign_key, other_keys=(seeded.revoked_key, UNKNOWN_KEY)
    )


@pytest.fixture(scope="module")
def run_suite(
    seeded: Seeded, credentials: contract.Credentials
) -> Callable[..., contract.ContractResult]:
    """Run the whole contract suite, as configured in schemathesis.toml, against an ASGI app."""

    def run(
        app: Any, *, max_examples: int | None = MAX_EXAMPLES, junit: Path | None = None
    ) -> contract.ContractResult:
        options = {"max_examples": max_examples, "seed": SEED}
        with contract.prepared_config(credentials, contract.our_contract(), **options) as config:
            schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
            return contract.run_contract(schema, credentials, render_ids=seeded.pool, junit=junit)

    return run
