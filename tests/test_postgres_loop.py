"""db/postgres_loop.py: PostgreSQL's reads on the event loop through psycopg 3, on the real
server (CRAFTKIT_TEST_POSTGRES_URL), and every PostgreSQL scheme on both paths; the frozen and
stopped server cases are in tests/test_db_faults.py, on a private cluster."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import replace
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from api.server.app import create_app
from api.server.dbwork import DatabaseWork
from db.connection import DatabaseUnavailable, database, database_for
from db.loop_reads import request_connection
from db.postgres_loop import APPLICATION_NAME, PostgresOnLoop
from tests.support import url

pytestmark = pytest.mark.postgres_only

PID = ("SELECT pg_backend_pid()", ())


@pytest.fixture(autouse=True)
def started(database_url: str) -> Any:
    """When the test started, by the server's clock: connections other tests' apps left to
    the garbage collector are older."""
    ((now,),) = database.execute_sql("SELECT clock_timestamp()").fetchall()
    return now


def loop_connections(since: Any) -> list[int]:
    """The server processes of this database's connections made by the loop path since then."""
    rows = database.execute_sql(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND application_name = %s AND backend_start >= %s",
        (APPLICATION_NAME, since),
    ).fetchall()
    return [pid for (pid,) in rows]


def loop_connections_once_closed(since: Any, wait: float = 5.0) -> list[int]:
    """loop_connections after the server has had time to end the processes of connections
    the client closed: a backend leaves pg_stat_activity a moment after the client's goodbye."""
    deadline = time.monotonic() + wait
    while (pids := loop_connections(since)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return pids


def test_the_server_ending_a_pooled_connection_costs_no_request(
    settings, tenant, make_render, started
):
    """A connection the server closed while idle (restart, idle timeout, a DBA) is noticed at
    checkout, without a round trip, and replaced: the next request is a 200, not a 503."""
    render = make_render(tenant["project"])
    with TestClient(create_app(settings)) as client:
        assert client.get(url(render), headers=tenant["headers"]).status_code == 200
        (before,) = loop_connections(started)
        database.execute_sql("SELECT pg_terminate_backend(%s)", (before,))
        time.sleep(0.2)  # the server's goodbye reaches the idle socket
        response = client.get(url(render), headers=tenant["headers"])
        assert response.status_code == 200, response.text
        assert loop_connections(started) not in ([], [before])


def test_the_apps_shutdown_closes_its_connections(settings, tenant, make_render, started):
    render = make_render(tenant["project"])
    with TestClient(create_app(settings)) as client:
        assert client.get(url(render), headers=tenant["headers"]).status_code == 200
        assert len(loop_connections(started)) == 1
    assert loop_connections_once_closed(started) == []


def test_the_flask_app_and_the_setting_keep_psycopg2_in_threads(
    settings, tenant, make_render, started
):
    render = make_render(tenant["project"])
    for changed in (replace(settings, app="flask"), replace(settings, db_on_loop=False)):
        with TestClient(create_app(changed)) as client:
            assert client.get(url(render), headers=tenant["headers"]).status_code == 200
            assert loop_connections(started) == []


def _work(database_url: str, seconds: float | None) -> DatabaseWork:
    """A DatabaseWork reading on the loop, its statements bounded by `seconds` on the loop only
    (no server-side statement_timeout), so that the bound met is this module's own."""
    db = database_for(database_url, pool_size=2)
    return DatabaseWork(db, 2, PostgresOnLoop(db, seconds))  # type: ignore[arg-type]


async def _in_request(work: DatabaseWork, *statements: Any) -> list[Any]:
    async with work.request():
        return await work.run_on_loop(request_connection().fetch, *statements)


def test_a_statement_past_its_bound_is_unavailable_at_the_bound(database_url):
    """The loop's timer shuts the socket down: a statement the server never answers (here one
    that sleeps, with no server-side timeout) fails at the bound, and its connection is not
    used again."""
    work = _work(database_url, 0.5)

    async def scenario() -> tuple[float, int, int]:
        (((first,),),) = await _in_request(work, PID)
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable):
            await _in_request(work, ("SELECT pg_sleep(5)", ()))
        took = time.monotonic() - started
        (((after,),),) = await _in_request(work, PID)
        await work.close()
        return took, first, after

    took, first, after = asyncio.run(scenario())
    assert 0.4 < took < 2.0, took
    assert after != first  # the interrupted connection was dropped, a new one made


def test_statements_go_together_and_a_cancelled_request_waits_for_them(database_url):
    """Two statements in one batch answer in order; a request cancelled mid-batch (its
    deadline) waits for the batch rather than cancel it half-way, and the connection comes
    back healthy, reused by the next request."""
    work = _work(database_url, 5)

    async def scenario() -> tuple[list[Any], float, int, int]:
        together = await _in_request(work, ("SELECT 1", ()), ("SELECT 'two'", ()))
        (((first,),),) = await _in_request(work, PID)
        request = asyncio.ensure_future(_in_request(work, ("SELECT pg_sleep(0.6)", ())))
        await asyncio.sleep(0.1)
        request.cancel()
        started = time.monotonic()
        with pytest.raises(asyncio.CancelledError):
            await request
        waited = time.monotonic() - started
        (((after,),),) = await _in_request(work, PID)
        await work.close()
        return together, waited, first, after

    together, waited, first, after = asyncio.run(scenario())
    assert together == [[(1,)], [("two",)]]
    assert waited > 0.3, waited  # the batch ran to its end
    assert after == first  # and its connection was given back, not dropped


def test_psycopg_errors_the_loop_path_relies_on():
    """Connection failures are OperationalError (a 503 via DatabaseUnavailable), and a
    cancelled statement is one too."""
    assert issubclass(psycopg.errors.ConnectionTimeout, psycopg.OperationalError)
    assert issubclass(psycopg.errors.QueryCanceled, psycopg.OperationalError)


@pytest.mark.parametrize(
    "scheme", ["postgres", "postgresql", "postgresql+pool", "postgresext", "postgresqlext+pool"]
)
@pytest.mark.parametrize("db_on_loop", [True, False])
def test_every_postgresql_scheme_serves_on_both_paths(
    settings, tenant, make_render, scheme, db_on_loop
):
    """Every scheme DATABASE_URL accepts for PostgreSQL serves a summary: postgresext's
    database class passes `named_cursor` to `execute_sql`, which the statement bound's
    wrapper (db/deadline.py) refused with a traceback at start-up."""
    render = make_render(tenant["project"])
    changed = replace(
        settings,
        database_url=scheme + settings.database_url[settings.database_url.index(":") :],
        db_on_loop=db_on_loop,
    )
    with TestClient(create_app(changed)) as client:
        response = client.get(url(render), headers=tenant["headers"])
        assert response.status_code == 200, response.text
        assert client.get("/readyz").status_code == 200


@pytest.mark.parametrize("prepare", [True, False])
def test_statements_are_prepared_unless_told_not_to(database_url, prepare):
    """psycopg prepares a statement run five times on a connection (the server then plans it
    once); CRAFTKIT_DB_PREPARE=0 (behind an older PgBouncer) never does."""
    db = database_for(database_url, pool_size=2)
    work = DatabaseWork(db, 2, PostgresOnLoop(db, 5, prepare=prepare))  # type: ignore[arg-type]
    prepared = ("SELECT count(*) FROM pg_prepared_statements", ())

    async def scenario() -> int:
        async with work.request():
            for _ in range(6):
                await work.run_on_loop(request_connection().fetch, ("SELECT %s::int", (1,)))
            (((count,),),) = await work.run_on_loop(request_connection().fetch, prepared)
        await work.close()
        return int(count)

    count = asyncio.run(scenario())
    assert (count > 0) is prepare, count


def test_a_connection_on_a_descriptor_past_1023_is_reused(settings, tenant, make_render, started):
    """A busy worker's sockets pass 1023, where `select()` refuses a descriptor: the checkout's
    quiet check must still work there (a 500, and a leaked connection, on every request)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2048:
        if hard != resource.RLIM_INFINITY and hard < 2048:
            pytest.skip(f"the open-files limit is {hard}: no descriptor past 1023 to test")
        resource.setrlimit(resource.RLIMIT_NOFILE, (2048, hard))
    render = make_render(tenant["project"])
    padding: list[int] = []
    try:
        while not padding or padding[-1] < 1100:
            padding.append(os.open(os.devnull, os.O_RDONLY))
        with TestClient(create_app(settings)) as client:
            for _ in range(3):
                response = client.get(url(render), headers=tenant["headers"])
                assert response.status_code == 200, response.text
            assert len(loop_connections(started)) == 1  # made once, reused
    finally:
        for fd in padding:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_connection_given_back_after_shutdown_is_closed(database_url, started):
    """A request still running when the app shuts down (past uvicorn's graceful wait) gives
    its connection back afterwards: closed then, not kept in a list nobody closes."""
    work = _work(database_url, 5)

    assert work.postgres_on_loop is not None
    on_loop = work.postgres_on_loop

    async def scenario() -> None:
        home = on_loop.connections()  # kept here, so a connection left in it stays open
        async with work.request():
            await work.run_on_loop(request_connection().fetch, PID)
            await work.close()  # the app's shutdown, while this request holds its connection
        assert len(home) == 0
        assert loop_connections_once_closed(started) == []

    asyncio.run(scenario())


def test_writes_never_take_the_coroutine_twin(database_url):
    """Twins are reads: a handler of a write operation runs through Peewee even on the loop
    path, so its transactions stay Peewee's."""
    from api.server.dbwork import async_handler
    from handlers.context import on_loop

    ran: list[str] = []

    async def twin() -> str:
        ran.append("twin")
        return "twin"

    @on_loop(twin)
    def handler() -> str:
        ran.append("peewee")
        return "peewee"

    work = _work(database_url, 5)

    async def scenario() -> list[str]:
        async with work.request():
            return [
                await async_handler(handler, method, work)() for method in ("get", "post", "head")
            ]

    assert asyncio.run(scenario()) == ["twin", "peewee", "twin"]
    assert ran == ["twin", "peewee", "twin"]


def test_without_psycopg_3_the_reads_stay_in_threads_and_the_log_says_how(
    settings, tenant, make_render, started, monkeypatch, caplog
):
    """An install with psycopg2 only (the `postgres` extra before psycopg 3 joined it) still
    serves, through threads, and says what to install."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "psycopg" else real(name, *a)
    )
    render = make_render(tenant["project"])
    with caplog.at_level("WARNING"), TestClient(create_app(settings)) as client:
        assert client.get(url(render), headers=tenant["headers"]).status_code == 200
        assert loop_connections(started) == []
    assert "psycopg 3 is not installed" in caplog.text
    assert "pip install -e '.[postgres]'" in caplog.text
