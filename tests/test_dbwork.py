"""api/server/dbwork.py and the request's connection: one pooled connection per request,
SQLite work on the event loop that never waits there, PostgreSQL work on the loop through
psycopg 3 (or in threads: the FlaskApp, CRAFTKIT_DB_ON_LOOP=0)."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
import time
from dataclasses import replace
from typing import Any

import peewee
import pytest
from starlette.testclient import TestClient

import api.server.app
import handlers.renders
from api.server.app import create_app
from api.server.dbwork import DatabaseWork
from db.connection import (
    RequestScopedState,
    database,
    database_for,
    in_request,
    request_connection,
)
from db.loop_reads import request_connection as request_connection_on_loop
from db.sqlite_loop import SqliteOnLoop
from tests.support import url


def spy(seen: list[tuple[int, int]], real: Any) -> Any:
    """`real`, recording (thread, connection) each time it runs."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        seen.append((threading.get_ident(), id(database.connection())))
        return real(*args, **kwargs)

    return wrapper


def spy_on_loop(seen: list[tuple[int, int]], real: Any) -> Any:
    """`real` (a coroutine reading on the loop), recording (thread, the request's connection)
    each time it runs: on PostgreSQL the server process behind it (one process, one
    connection), on SQLite the loop's sqlite3 connection."""

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = await real(*args, **kwargs)
        request = request_connection_on_loop()
        if isinstance(request, SqliteOnLoop):
            ident = id(request.connection())
        else:
            (((ident,),),) = await request.fetch(("SELECT pg_backend_pid()", ()))
        seen.append((threading.get_ident(), ident))
        return result

    return wrapper


def test_the_key_lookup_and_the_handler_share_one_pooled_connection(
    settings, app_kind, tenant, make_render, monkeypatch, backend
):
    render = make_render(tenant["project"])
    app = create_app(replace(settings, app=app_kind, key_cache_seconds=0))  # look up each time
    seen: list[tuple[int, int]] = []
    if app_kind == "async":  # the loop's own connection (psycopg 3, or sqlite3 without a pool)
        lookup, handler, watch = "find_active_key_on_loop", "render_engagement_on_loop", spy_on_loop
    else:
        lookup, handler, watch = "find_active_key", "render_engagement", spy
    monkeypatch.setattr(api.server.app, lookup, watch(seen, getattr(api.server.app, lookup)))
    monkeypatch.setattr(handlers.renders, handler, watch(seen, getattr(handlers.renders, handler)))
    with TestClient(app) as client:
        for _ in range(3):
            assert client.get(url(render), headers=tenant["headers"]).status_code == 200
    assert len(seen) == 6
    lookups, handlers_ = seen[0::2], seen[1::2]
    assert [c for _, c in lookups] == [c for _, c in handlers_]  # per request: the same one
    assert len({c for _, c in seen}) == 1  # and the pool's: one connection, made once


@pytest.mark.parametrize("db_on_loop", [True, False])
def test_sqlite_work_runs_on_the_event_loop_postgresql_work_as_set(
    settings, tenant, make_render, monkeypatch, backend, db_on_loop
):
    """On AsyncApp, with no lock in the way: SQLite on the loop's thread; PostgreSQL there
    through psycopg 3 by default, in threads through psycopg2 with CRAFTKIT_DB_ON_LOOP=0."""
    render = make_render(tenant["project"])
    seen: list[tuple[int, int]] = []
    for name, watch in (("render_engagement", spy), ("render_engagement_on_loop", spy_on_loop)):
        monkeypatch.setattr(handlers.renders, name, watch(seen, getattr(handlers.renders, name)))
    app = create_app(replace(settings, app="async", db_on_loop=db_on_loop))
    loop_threads: list[int] = []

    async def where_is_the_loop() -> None:
        loop_threads.append(threading.get_ident())

    with TestClient(app) as client:
        client.portal.call(where_is_the_loop)
        assert client.get(url(render), headers=tenant["headers"]).status_code == 200
    assert len(seen) == 1
    on_loop = seen[0][0] == loop_threads[0]
    assert on_loop is (backend == "sqlite" or db_on_loop)


def test_a_locked_sqlite_file_is_waited_for_in_a_thread_never_on_the_loop(
    settings, tenant, make_render, backend
):
    """The first request makes the pool's connection, whose PRAGMAs wait for the lock."""
    if backend != "sqlite":
        pytest.skip("SQLite's file locks")
    render = make_render(tenant["project"])
    app = create_app(replace(settings, app="async"))
    app.database.close_idle()  # what start-up opened: the first request makes a new one
    path = settings.database_url.removeprefix("sqlite:///")
    # Another process's exclusive lock: new readers get SQLITE_BUSY, even in WAL mode.
    locker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    locker.execute("PRAGMA locking_mode=EXCLUSIVE")
    locker.execute("BEGIN EXCLUSIVE")
    locker.execute("UPDATE project SET name = name")
    released = threading.Event()

    def release() -> None:
        locker.execute("COMMIT")
        locker.close()
        released.set()

    answers: dict[str, Any] = {}
    with TestClient(app) as client:

        def engagement() -> None:
            answers["engagement"] = client.get(url(render), headers=tenant["headers"])

        waiting = threading.Thread(target=engagement)
        waiting.start()
        timer = threading.Timer(3.0, release)  # generous: the spec below needs milliseconds
        timer.start()
        time.sleep(0.3)  # let the engagement request reach the lock
        # While it waits for the lock, the loop answers others: before the lock is released.
        answers["spec"] = client.get("/openapi.json")
        answers["spec_while_locked"] = not released.is_set()
        waiting.join(timeout=30)
        timer.join()
    assert answers["spec"].status_code == 200
    assert answers["spec_while_locked"]  # a statement waiting on the loop would have held it
    assert answers["engagement"].status_code == 200  # it waited, in a thread, and then read


def test_busy_work_on_the_loop_is_retried_in_a_thread(tmp_path):
    """A statement refused with SQLITE_BUSY on the loop runs again where it may wait."""
    db = database_for(f"sqlite:///{tmp_path / 'x.db'}", pool_size=2, wait_for_locks=False)
    work = DatabaseWork(db, pool_size=2)
    calls: list[int] = []

    def read(error: str) -> str:
        calls.append(threading.get_ident())
        if len(calls) == 1:
            raise peewee.OperationalError(error)
        return "read"

    busy: list[int] = []

    async def scenario() -> None:
        async with work.request():
            assert await work.run(read, "database is locked") == "read"
            busy.extend(calls)
            calls.clear()
            with pytest.raises(peewee.OperationalError):  # any other error is not retried
                await work.run(read, "no such table: render")

    asyncio.run(scenario())
    loop_thread = threading.get_ident()  # asyncio.run ran the loop on this thread
    assert busy[0] == loop_thread and busy[1] != loop_thread  # retried off the loop
    assert calls == [loop_thread]  # the other error: raised at once, on the loop


def test_outside_a_request_peewee_keeps_connections_per_thread(tmp_path):
    db = database_for(f"sqlite:///{tmp_path / 'x.db'}", pool_size=2)
    assert isinstance(db._state, RequestScopedState)
    db.connect()
    other: list[bool] = []
    thread = threading.Thread(target=lambda: other.append(db.is_closed()))
    thread.start()
    thread.join()
    assert other == [True] and not db.is_closed()  # open here, not in the other thread
    db.close()


def test_inside_a_request_every_thread_sees_the_requests_connection(tmp_path):
    db = database_for(f"sqlite:///{tmp_path / 'x.db'}", pool_size=2)
    import contextvars

    with request_connection(db):
        assert in_request(db)
        db.connect()
        mine = db.connection()
        context = contextvars.copy_context()
        other: list[Any] = []
        thread = threading.Thread(target=lambda: other.append(context.run(db.connection)))
        thread.start()
        thread.join()
        assert other == [mine]
    assert db.is_closed() and not in_request(db)  # given back at the end


def test_a_cancelled_request_keeps_its_connection_until_its_thread_is_done(tmp_path):
    """The request deadline cancels a late request; its thread runs on, and so must the
    request's hold on the connection, or the pool gives it out twice or never gets it back."""
    db = database_for(f"sqlite:///{tmp_path / 'x.db'}", pool_size=1)
    work = DatabaseWork(db, 1)
    started, release = threading.Event(), threading.Event()

    def slow() -> None:
        db.connect(reuse_if_open=True)
        started.set()
        release.wait(10)

    async def one_request() -> None:
        async with work.request():
            await work.run(slow, read_only=False)

    async def main() -> None:
        task = asyncio.ensure_future(one_request())
        await asyncio.to_thread(started.wait, 10)
        task.cancel()
        await asyncio.sleep(0.2)
        assert not task.done()  # waiting for its thread, still holding the connection
        assert len(db._in_use) == 1 and not db._connections
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not db._in_use and len(db._connections) == 1  # given back once the thread is done

    asyncio.run(main())


def test_peewee_internals_the_request_scope_relies_on_are_still_there():
    """db/connection.py replaces Database._state; this fails loudly if Peewee changes it."""
    db = peewee.SqliteDatabase(":memory:")
    assert isinstance(db._state, peewee._ConnectionLocal)
    state = peewee._ConnectionState()
    for name in ("closed", "conn", "ctx", "transactions", "commit_callbacks"):
        assert hasattr(state, name), name
    assert callable(state.reset) and callable(state.set_connection)


def test_a_flask_app_under_load_never_waits_on_its_own_pool(tmp_path):
    """FlaskApp: views run in a2wsgi's threads, key lookups on the loop. A request whose key
    was looked up holds a pooled connection while it waits for a thread; threads running
    requests whose key was cached waited for the pool: with every connection held by requests
    waiting for a thread, every thread waited for a connection, forever (503s, then nothing,
    under `wrk -c32` in the benchmark). Each request now takes its database slot before its
    view runs, so no more requests hold or want connections than the pool has."""
    import concurrent.futures
    import urllib.error
    import urllib.request

    from tests.support import craftkit, serve_database

    url = f"sqlite:///{tmp_path / 'load.db'}"
    demo = craftkit(url, "demo", cwd=tmp_path).stdout
    found = re.search(r"Bearer (\S+)' \S+?(/v1/renders/[0-9a-f-]+/engagement)", demo)
    assert found is not None, demo
    key, path = found.groups()
    env = {"CRAFTKIT_APP": "flask", "CRAFTKIT_DB_POOL_SIZE": "2", "CRAFTKIT_DB_TIMEOUT": "3"}
    with serve_database(url, tmp_path, env=env) as server:

        def get(_: int) -> int:
            request = urllib.request.Request(
                server.url + path, headers={"Authorization": f"Bearer {key}"}
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    return int(answer.status)
            except urllib.error.HTTPError as exc:
                return exc.code

        statuses: list[int] = []
        deadline = time.monotonic() + 4  # past the key cache's 1 s, so keys are looked up again
        with concurrent.futures.ThreadPoolExecutor(40) as pool:
            while time.monotonic() < deadline:
                statuses += pool.map(get, range(80))
        assert set(statuses) == {200}, (
            f"{statuses.count(503)} of {len(statuses)} answered 503\n{server.output()[-2000:]}"
        )
