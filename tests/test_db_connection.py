"""db/connection.py: each context (a request, a CLI command, a test) uses its bound database."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from api.app import create_app
from api.config import Settings
from db.connection import (
    DatabaseConfigError,
    NoDatabaseBound,
    bind,
    bound,
    current,
    database,
    database_for,
)
from db.migrations import init_schema
from db.models import Project
from tests.support import ROOT, url


def other_database(tmp_path: Path) -> str:
    """A second, initialised SQLite database; the test's own stays bound afterwards."""
    other = f"sqlite:///{tmp_path / 'other.db'}"
    previous = current()
    bind(database_for(other))
    init_schema()
    bind(previous)
    return other


def test_a_second_app_does_not_rebind_the_first_ones_database(app, tenant, make_render, tmp_path):
    render = make_render(tenant["project"])
    second = create_app(
        Settings.from_env(
            {}, database_url=other_database(tmp_path), spec_path=str(ROOT / "openapi.yaml")
        )
    )
    with TestClient(app) as first_client, TestClient(second) as second_client:
        assert first_client.get(url(render), headers=tenant["headers"]).status_code == 200
        # The key lives in the first app's database only.
        assert second_client.get(url(render), headers=tenant["headers"]).status_code == 401
        assert first_client.get(url(render), headers=tenant["headers"]).status_code == 200


def test_nothing_is_bound_in_a_new_context():
    failures: list[BaseException] = []

    def query() -> None:
        try:
            Project.select().count()
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=query)  # a new thread starts with an empty context
    thread.start()
    thread.join()
    assert len(failures) == 1 and isinstance(failures[0], NoDatabaseBound)
    assert "create_app" in str(failures[0])


def test_bound_restores_the_previous_database(database_url, tmp_path):
    mine = current()
    other = database_for(f"sqlite:///{tmp_path / 'x.db'}")
    with bound(other):
        assert database.obj is other
    assert database.obj is mine is not None


def test_the_proxy_cannot_be_initialised_for_the_whole_process(tmp_path):
    with pytest.raises(TypeError, match="bind"):
        database.initialize(database_for(f"sqlite:///{tmp_path / 'x.db'}"))


def test_building_a_database_connects_to_nothing(tmp_path):
    db = database_for(f"sqlite:///{tmp_path / 'never' / 'x.db'}")  # the directory is missing
    assert db.is_closed()
    with pytest.raises(DatabaseConfigError):
        database_for("mysql://root@127.0.0.1/x")
