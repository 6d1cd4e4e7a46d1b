"""Fixtures: a real database per test (a SQLite file; PostgreSQL too when configured), the app
built by the same factory users run, helpers that create keys, renders and events, and the
`craftkit` CLI run on the test database (`cli`, `acme`).

Set CRAFTKIT_TEST_POSTGRES_URL (CI does) to run every database-backed test on PostgreSQL as well.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from starlette.testclient import TestClient

from api.config import APP_KINDS, Settings
from api.server.app import create_app
from cli.main import main
from db import keys, queries
from db.connection import bind, connection, database_for
from db.migrations import recreate_schema
from db.models import Project
from tests.support import ROOT, ok, postgres_url_for_tests

POSTGRES_URL = postgres_url_for_tests()


# The longest modules (a fresh clone and its install, the soak, the benchmark, the in-process
# contract runs, the public specs) first: `make test` runs the suite on several pytest-xdist
# workers, each handed a test or two at a time, so a long test met last would leave one worker
# running it while the others are idle.
SLOW_FIRST = (
    "tests/test_readme.py",
    "tests/test_soak.py",
    "tests/test_bench.py",
    "contract_tests/test_schemathesis.py",
    "contract_tests/test_public_specs.py",
    "tests/test_bench_scale.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return SLOW_FIRST.index(path) if path in SLOW_FIRST else len(SLOW_FIRST)

    items.sort(key=rank)  # stable: each module keeps its order


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database_url" in metafunc.fixturenames:
        backends = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])
        if metafunc.definition.get_closest_marker("postgres_only"):
            backends = backends[1:]  # none without PostgreSQL: pytest reports the test skipped
        if metafunc.definition.get_closest_marker("sqlite_only"):
            backends = backends[:1]
        metafunc.parametrize("backend", backends, scope="function")
    if "app_kind" in metafunc.fixturenames:
        metafunc.parametrize("app_kind", APP_KINDS, scope="function")


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty, initialised database for one test."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'craftkit.db'}"
    else:
        assert POSTGRES_URL
        url = POSTGRES_URL
    db = database_for(url)
    bind(db)  # the test's own queries; each app binds its own database per request
    recreate_schema()
    yield url
    if not db.is_closed():
        db.close()
    bind(None)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings.from_env({}, database_url=database_url, spec_path=str(ROOT / "openapi.yaml"))


@pytest.fixture
def app(settings: Settings, app_kind: str) -> Any:
    """The app as served, once as AsyncApp (the default) and once as FlaskApp (CRAFTKIT_APP)."""
    return create_app(replace(settings, app=app_kind))


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as test_client:  # a redirect is an answer too
        yield test_client


@pytest.fixture
def db(database_url: str) -> Iterator[Any]:
    """An open connection for checking database state directly."""
    with connection() as conn:
        yield conn


@pytest.fixture
def make_project(database_url: str) -> Callable[..., Project]:
    def make(name: str | None = None) -> Project:
        with connection():
            return queries.create_project(name or f"project-{uuid.uuid4().hex[:8]}")

    return make


@pytest.fixture
def make_key(make_project: Callable[..., Project]) -> Callable[..., str]:
    """Store a key and return its plaintext; `project` may be a Project or a name."""

    def make(project: Project | None = None, mode: str = "test") -> str:
        project = project or make_project()
        new = keys.generate_key(mode)
        with connection():
            queries.store_api_key(project, mode, new.digest, new.display_prefix)
        return new.plaintext

    return make


@pytest.fixture
def make_render(make_project: Callable[..., Project]) -> Callable[..., str]:
    def make(project: Project | None = None, mode: str = "test") -> str:
        with connection():
            return str(queries.create_render(project or make_project(), mode).id)

    return make


@pytest.fixture
def record_events(database_url: str) -> Callable[[list[dict[str, Any]]], queries.RecordResult]:
    """Store events given as JSON Lines objects (the CLI's format), through the same parser."""
    import json

    from cli.event_lines import parse_lines

    def record(events: list[dict[str, Any]]) -> queries.RecordResult:
        parsed = parse_lines(json.dumps(e) for e in events)
        with connection():
            return queries.record_events(parsed)

    return record


@pytest.fixture
def tenant(make_project: Callable[..., Project], make_key: Callable[..., str]) -> dict[str, Any]:
    """A project with a test key, ready for requests: {"project", "key", "headers"}."""
    project = make_project()
    key = make_key(project, "test")
    return {"project": project, "key": key, "headers": {"Authorization": f"Bearer {key}"}}


# --- the `craftkit` CLI on the test database (tests/test_cli_*.py) ---------------------------


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """Run `craftkit --database-url <test db> ARGS…`; the environment cannot leak in."""
    monkeypatch.chdir(tmp_path)  # the demo key file of a non-SQLite database lands here
    for name in ("DATABASE_URL", "CRAFTKIT_RECENT_LIMIT", "CRAFTKIT_PORT", "CRAFTKIT_HOST"):
        monkeypatch.delenv(name, raising=False)

    def run(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(main, ["--database-url", database_url, *args], input=input)

    return run


@pytest.fixture
def acme(cli: Any) -> dict[str, str]:
    """Project acme with a test render, made through the CLI."""
    ok(cli("projects", "create", "acme"))
    render = ok(cli("renders", "create", "--project", "acme", "--mode", "test")).strip()
    return {"render": render}
