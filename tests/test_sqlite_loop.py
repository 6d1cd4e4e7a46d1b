"""db/sqlite_loop.py: SQLite's reads on the event loop through the loop's own sqlite3
connection, on real files; the lock, WAL-index and replaced-file cases over HTTP are in
tests/test_dbwork.py and tests/test_db_faults.py, which run this path by default."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from dataclasses import replace
from typing import Any

import peewee
import pytest
from starlette.testclient import TestClient

import db.sqlite_loop
import handlers.renders
from api.server.app import create_app
from api.server.dbwork import DatabaseWork
from db.connection import DatabaseUnavailable, database_for
from db.sqlite_loop import FallBack, SqliteOnLoop, new_connection
from tests.support import event, url

pytestmark = pytest.mark.sqlite_only

SLOW = (  # a statement that runs for seconds: a billion rows counted
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000000) "
    "SELECT count(*) FROM n",
    (),
)


def _served(settings: Any, **changes: Any) -> tuple[Any, DatabaseWork]:
    app = create_app(replace(settings, app="async", **changes))
    return app, app.database_work


def _loop_connection(client: TestClient, work: DatabaseWork) -> sqlite3.Connection | None:
    """The connection of the loop serving `client`, asked on that loop."""

    async def connection() -> sqlite3.Connection | None:
        assert work.sqlite_on_loop is not None
        return work.sqlite_on_loop.connection()

    return client.portal.call(connection)


def test_connections_are_made_as_peewee_makes_them(database_url):
    """Peewee's own SQLite connect: WAL, foreign keys, busy timeout 0 (reads on the loop never
    wait), usable from another thread than the one that made it."""
    db = database_for(database_url, pool_size=2, wait_for_locks=False)
    made: list[sqlite3.Connection] = []
    maker = threading.Thread(target=lambda: made.append(new_connection(db)))
    maker.start()
    maker.join()
    (conn,) = made
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
    assert conn.execute("PRAGMA busy_timeout").fetchone() == (0,)
    assert conn.in_transaction is False and conn.isolation_level is None  # autocommit
    conn.close()


def test_reads_take_no_pooled_connection_and_answer_as_peewees_path(
    settings, tenant, make_render, make_key, record_events
):
    """The same status and bytes as through Peewee's pool (CRAFTKIT_DB_ON_LOOP=0) for a render
    with events (a shared link's, metadata), one without, a missing one and another tenant's,
    by GET and HEAD; and the pool untouched."""
    render, empty = make_render(tenant["project"]), make_render(tenant["project"])
    record_events(
        [
            event(render, eventType="downloaded", createdAt="2026-06-21T10:00:01Z"),
            event(render, shareId="11111111-1111-4111-8111-111111111111"),  # a shared link's view
            event(render, metadata={"page": 2, "nested": [1, None]}, userAgent="curl/8"),
        ]
    )
    stranger = {"Authorization": f"Bearer {make_key()}"}  # another project's key
    app, work = _served(settings, key_cache_seconds=0)
    assert work.sqlite_on_loop is not None
    peewee_app, peewee_work = _served(settings, db_on_loop=False)
    assert peewee_work.sqlite_on_loop is None
    missing = url("00000000-0000-4000-8000-000000000000")
    cases = [(url(render), tenant["headers"]), (url(empty), tenant["headers"])]
    cases += [(missing, tenant["headers"]), (url(render), stranger)]
    with TestClient(app) as client, TestClient(peewee_app) as other:
        app.database.close_idle()
        statuses = []
        for method in ("GET", "HEAD"):
            for path, headers in cases:
                ours = client.request(method, path, headers=headers)
                theirs = other.request(method, path, headers=headers)
                assert (ours.status_code, ours.content) == (theirs.status_code, theirs.content)
                statuses.append(ours.status_code)
        assert statuses == [200, 200, 404, 404] * 2
        assert work.db._connections == [] and work.db._in_use == {}  # playhouse's pool: unused


def test_the_connection_is_made_off_the_loop_and_kept(settings, tenant, make_render, monkeypatch):
    render = make_render(tenant["project"])
    app, _work = _served(settings)
    made_in: list[int] = []
    real = new_connection

    def spy(db: Any) -> sqlite3.Connection:
        made_in.append(threading.get_ident())
        return real(db)

    monkeypatch.setattr("api.server.dbwork.new_connection", spy)
    loop_thread: list[int] = []

    async def where() -> None:
        loop_thread.append(threading.get_ident())

    with TestClient(app) as client:
        client.portal.call(where)
        for _ in range(3):
            assert client.get(url(render), headers=tenant["headers"]).status_code == 200
    assert len(made_in) == 1 and made_in[0] != loop_thread[0]


def test_the_apps_shutdown_closes_the_loops_connection(settings, tenant, make_render):
    render = make_render(tenant["project"])
    app, work = _served(settings)
    assert work.sqlite_on_loop is not None
    with TestClient(app) as client:
        assert client.get(url(render), headers=tenant["headers"]).status_code == 200
        conn = _loop_connection(client, work)
    assert conn is not None
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        conn.execute("SELECT 1")


def _on_loop(database_url: str, seconds: float | None = 5.0) -> SqliteOnLoop:
    db = database_for(database_url, pool_size=2, wait_for_locks=False)
    assert isinstance(db, peewee.SqliteDatabase)
    return SqliteOnLoop(db, seconds)


def test_a_statement_past_its_bound_is_unavailable_and_its_connection_dropped(database_url):
    sqlite = _on_loop(database_url, seconds=0.2)

    async def scenario() -> None:
        sqlite.keep(new_connection(sqlite.db), sqlite.generation)
        conn = sqlite.connection()
        with pytest.raises(DatabaseUnavailable, match="interrupted"):
            await sqlite.fetch(SLOW)
        assert sqlite.connection() is None
        assert conn is not None
        with pytest.raises(sqlite3.ProgrammingError):
            conn.execute("SELECT 1")

    asyncio.run(scenario())


def test_other_errors_fall_back_to_peewee_and_drop_the_connection(database_url):
    sqlite = _on_loop(database_url)

    async def scenario() -> None:
        with pytest.raises(FallBack) as not_made:  # not made on this loop yet
            await sqlite.fetch(("SELECT 1", ()))
        assert not not_made.value.waiting
        sqlite.keep(new_connection(sqlite.db), sqlite.generation)
        assert await sqlite.fetch(("SELECT 1", ()), ("SELECT 2", ())) == [[(1,)], [(2,)]]
        with pytest.raises(FallBack) as failed:
            await sqlite.fetch(("SELECT * FROM no_such_table", ()))
        assert not failed.value.waiting and sqlite.connection() is None

    asyncio.run(scenario())


def test_a_lock_falls_back_to_a_thread_that_may_wait(database_url):
    """Another connection's lock refuses the loop's at once (busy timeout 0): the read is to
    run where it may wait, and the connection is kept."""
    sqlite = _on_loop(database_url)
    path = database_url.removeprefix("sqlite:///")
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # the write lock

    async def scenario() -> None:
        sqlite.keep(new_connection(sqlite.db), sqlite.generation)
        with pytest.raises(FallBack) as busy:
            await sqlite.fetch(("BEGIN IMMEDIATE", ()))  # wants the same lock: refused
        assert busy.value.waiting
        assert sqlite.connection() is not None  # a lock says nothing against the connection

    try:
        asyncio.run(scenario())
    finally:
        writer.execute("COMMIT")
        writer.close()


def test_peewees_query_hooks_see_every_statement(settings, tenant, make_render, database_url):
    """With a hook installed (Peewee 4), reads take Peewee's path, which calls it."""
    render = make_render(tenant["project"])
    app, work = _served(settings)
    seen: list[str] = []
    work.db.query_hooks.append(lambda event: seen.append(event.sql))
    with TestClient(app) as client:
        assert client.get(url(render), headers=tenant["headers"]).status_code == 200
    assert any('"event_counter"' in sql for sql in seen), seen


def test_a_replaced_file_retires_every_loops_connection(settings, tenant, make_render, tmp_path):
    """The file at the path is another one: the loop's connection is closed, and the next
    read opens the new file (its data, not the old one's)."""
    import os

    render = make_render(tenant["project"])
    app, work = _served(settings, key_cache_seconds=0)
    path = settings.database_url.removeprefix("sqlite:///")
    with TestClient(app) as client:
        assert client.get(url(render), headers=tenant["headers"]).status_code == 200
        old = _loop_connection(client, work)
        copy = tmp_path / "copy.db"
        with sqlite3.connect(path) as source, sqlite3.connect(copy) as target:
            source.backup(target)
            target.execute("DELETE FROM api_key")
        source.close()
        target.close()
        os.replace(copy, path)
        assert client.get(url(render), headers=tenant["headers"]).status_code == 401
        new = _loop_connection(client, work)
    assert old is not None and old is not new
    with pytest.raises(sqlite3.ProgrammingError):
        old.execute("SELECT 1")


def test_the_handler_reads_through_its_twin(settings, tenant, make_render, monkeypatch):
    """On this path the coroutine twin runs, not the Peewee function (which would also answer)."""
    render = make_render(tenant["project"])
    ran: list[str] = []
    for name in ("render_engagement", "render_engagement_on_loop"):
        real = getattr(handlers.renders, name)

        def spy(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            ran.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(handlers.renders, name, spy)
    app, _work = _served(settings)
    with TestClient(app) as client:
        assert client.get(url(render), headers=tenant["headers"]).status_code == 200
    assert ran == ["render_engagement_on_loop"]


def test_a_connection_made_across_a_replacement_is_not_kept(database_url):
    """Made in a thread while another request saw the file replaced (and retired every loop's
    connection): it opened the file that was there before, so it is closed, never kept."""
    sqlite = _on_loop(database_url)

    async def scenario() -> None:
        began = sqlite.generation
        conn = new_connection(sqlite.db)  # in a thread, in the server
        sqlite.retire()  # meanwhile: the file at the path is another one
        sqlite.keep(conn, began)
        assert sqlite.connection() is None
        with pytest.raises(sqlite3.ProgrammingError):
            conn.execute("SELECT 1")
        sqlite.keep(new_connection(sqlite.db), sqlite.generation)
        assert sqlite.connection() is not None

    asyncio.run(scenario())


def test_the_events_are_read_only_when_the_render_has_some(
    settings, tenant, make_render, record_events, monkeypatch
):
    """On SQLite the statements run one after the other, as Peewee's path runs them: a render
    with no events (or none the key may read) costs no events query."""
    render = make_render(tenant["project"])
    ran: list[str] = []
    real = db.sqlite_loop.fetch_bounded

    def spy(conn: Any, statements: Any, seconds: Any) -> Any:
        ran.extend(sql for sql, _ in statements)
        return real(conn, statements, seconds)

    monkeypatch.setattr(db.sqlite_loop, "fetch_bounded", spy)
    app, _work = _served(settings)
    with TestClient(app) as client:
        assert client.get(url(render), headers=tenant["headers"]).status_code == 200
        assert not any('FROM "engagement_event"' in sql for sql in ran), ran
        record_events([event(render)])
        ran.clear()
        answer = client.get(url(render), headers=tenant["headers"])
        assert answer.status_code == 200 and len(answer.json()["recent"]) == 1
        assert any('FROM "engagement_event"' in sql for sql in ran), ran
