"""db/connection.py: each context (a request, a CLI command, a test) uses its bound database."""

from __future__ import annotations

import threading
from pathlib import Path

import peewee
import pytest
from starlette.testclient import TestClient

from api.config import Settings
from api.server.app import create_app
from db.connection import (
    DatabaseConfigError,
    NoDatabaseBound,
    bind,
    bound,
    current,
    database,
    database_for,
    request_connection,
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


# --- the pool: no waiting under its lock (db/deadline.py, BoundedPool) ------------------------


def test_the_pool_internals_it_relies_on_are_there(tmp_path):
    """Peewee and playhouse state BoundedPool and database_for read and replace (4.x)."""
    import peewee
    from playhouse.pool import PoolConnection, PooledDatabase

    db = database_for(f"sqlite:///{tmp_path / 'x.db'}", pool_size=2)
    for name in ("_pool_lock", "_pool_available", "_connections", "_in_use", "_heap_counter",
                 "_max_connections", "_stale_timeout"):  # fmt: skip
        assert hasattr(db, name), f"playhouse's pool has no {name} any more: see db/deadline.py"
    for name in ("_is_closed", "_can_reuse", "_close_raw", "_is_stale"):
        assert callable(getattr(PooledDatabase, name, None)), f"PooledDatabase.{name} moved"
    assert db.conn_key is id, "playhouse keys its pool by something else: see db/deadline.py"
    assert PoolConnection._fields == ("timestamp", "connection", "checked_out")
    assert isinstance(db._lock, peewee._NoopLock)


def test_a_slow_liveness_check_holds_neither_the_pool_nor_the_database_lock(tmp_path, monkeypatch):
    """Checking an idle connection (PostgreSQL's SELECT 1 at checkout) ran under the pool's
    lock: a hung server held every other checkout and every give-back, the event loop's too."""
    path = tmp_path / "x.db"
    database_for(f"sqlite:///{path}").connect()  # the file
    db = database_for(f"sqlite:///{path}", pool_size=4)
    with request_connection(db):
        db.connect()  # one idle connection in the pool once given back
    entered, release = threading.Event(), threading.Event()
    real = type(db)._is_closed

    def slow_check(self, conn):
        entered.set()
        release.wait(30)
        return real(self, conn)

    monkeypatch.setattr(type(db), "_is_closed", slow_check)
    try:
        checker = threading.Thread(target=lambda: db.connect(reuse_if_open=True))
        checker.start()
        assert entered.wait(30)
        got_pool = db._pool_lock.acquire(timeout=2)
        if got_pool:
            db._pool_lock.release()
        got_db = isinstance(db._lock, peewee._NoopLock) or db._lock.acquire(timeout=2)
        release.set()
        checker.join(30)
        assert got_pool and got_db
    finally:
        release.set()
