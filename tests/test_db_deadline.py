"""db/deadline.py: a statement past its deadline is interrupted; one that ends in time is not."""

from __future__ import annotations

import select
import threading
import time
from pathlib import Path

import peewee
import pytest

from db.connection import database_for
from db.deadline import Watchdog, connect
from tests.support import postgres_url_for_tests

SLOW = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"


def test_a_statement_past_its_deadline_is_interrupted(tmp_path: Path) -> None:
    db = connect(f"sqlite:///{tmp_path / 'x.db'}", 0.3)
    started = time.monotonic()
    with pytest.raises(peewee.OperationalError, match="interrupted"):
        db.execute_sql(SLOW)
    assert time.monotonic() - started < 5
    assert db.execute_sql("SELECT 1").fetchone() == (1,)  # the connection is usable again
    db.close()


def test_unbounded_is_unbounded_and_quick_statements_pass(tmp_path: Path) -> None:
    db = connect(f"sqlite:///{tmp_path / 'x.db'}", None)
    assert db.statement_seconds is None
    bounded = connect(f"sqlite:///{tmp_path / 'x.db'}", 5)
    for _ in range(200):
        assert bounded.execute_sql("SELECT 1").fetchone() == (1,)


def test_a_disarmed_deadline_never_fires() -> None:
    fired = threading.Event()
    watchdog = Watchdog()
    token = watchdog.arm(0.05, fired.set)
    watchdog.disarm(token)
    time.sleep(0.2)
    assert not fired.is_set()
    watchdog.arm(0.05, fired.set)
    assert fired.wait(2)  # and an armed one does: the check above can fail


def test_a_missing_sqlite_file_is_not_created_when_create_is_false(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    db = connect(f"sqlite:///{path}", 1, create=False)
    with pytest.raises(peewee.OperationalError):
        db.connect()
    assert not path.exists()
    connect(f"sqlite:///{path}", 1, create=True).connect()
    assert path.exists()


def test_postgres_gets_connect_and_statement_timeouts() -> None:
    db = connect("postgresql://u@127.0.0.1:1/x", 2.5)
    assert db.connect_params["connect_timeout"] == 3
    assert "statement_timeout=2500" in db.connect_params["options"]


def test_the_watchdog_thread_survives_an_error_and_still_fires() -> None:
    """A failure while it looks at the deadlines must not end the one thread arm() starts."""
    watchdog = Watchdog(tick=0.01)
    watchdog.arm(60, lambda: None)
    watchdog._armed[-1] = None  # type: ignore[assignment]  # unreadable: the look fails
    time.sleep(0.05)
    assert watchdog._thread is not None and watchdog._thread.is_alive()
    del watchdog._armed[-1]
    fired = threading.Event()
    watchdog.arm(0.02, fired.set)
    assert fired.wait(2)


def test_a_forked_child_forgets_the_parents_deadlines() -> None:
    """Interrupting them in the child would shut down sockets the parent still uses."""
    import os

    watchdog = Watchdog(tick=0.01)
    fired = threading.Event()
    watchdog.arm(0.2, fired.set)
    pid = os.fork()
    if pid == 0:  # the child: nothing armed, a thread of its own once it arms
        ok = not watchdog._armed and watchdog._thread is None
        mine = threading.Event()
        watchdog.arm(0.02, mine.set)
        os._exit(0 if ok and mine.wait(2) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert fired.wait(2)  # the parent's deadline still fires, in the parent


def test_fetch_all_answers_and_fails_as_execute_sql_does(tmp_path: Path) -> None:
    """The prepared statements' one-call path (Peewee's `__exception_wrapper__` and, on
    Peewee 4, `query_hooks`): same rows, same error class, hooks still called."""
    db = connect(f"sqlite:///{tmp_path / 'x.db'}", 5)
    db.execute_sql("CREATE TABLE t (a INTEGER, b TEXT)")
    db.execute_sql("INSERT INTO t VALUES (1, 'x'), (2, NULL)")
    sql, params = "SELECT a, b FROM t WHERE a >= ? ORDER BY a", [1]
    assert db.fetch_all(sql, params) == list(db.execute_sql(sql, params).fetchall())
    for bad in ("SELECT nope FROM t", "SELECT * FROM missing"):
        with pytest.raises(peewee.OperationalError):
            db.execute_sql(bad, [])
        with pytest.raises(peewee.OperationalError):
            db.fetch_all(bad, [])
    seen: list[str] = []
    if hasattr(db, "query_hooks"):
        db.query_hooks.append(lambda event: seen.append(event.sql))
        db.fetch_all(sql, params)
        assert seen == [sql]
    db.close()


POSTGRES_URL = postgres_url_for_tests()


@pytest.mark.skipif(not POSTGRES_URL, reason="needs CRAFTKIT_TEST_POSTGRES_URL")
def test_a_quiet_pooled_connection_is_reused_without_a_round_trip() -> None:
    """playhouse's `SELECT 1` at each checkout was a third of a request's round trips; a
    session the server ended (its socket readable) is still checked, dropped and replaced."""
    assert POSTGRES_URL
    db = database_for(POSTGRES_URL, pool_size=2, timeout=5)
    checks: list[object] = []
    real = type(db)._is_closed
    db._is_closed = lambda conn: checks.append(conn) or real(db, conn)  # type: ignore[method-assign]
    pid = db.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
    db.close()
    assert db.execute_sql("SELECT pg_backend_pid()").fetchone()[0] == pid
    db.close()
    assert checks == []  # reused, idle and quiet: no check
    killer = connect(POSTGRES_URL, 5)
    killer.execute_sql("SELECT pg_terminate_backend(%s)", (pid,))
    killer.close()
    for _ in range(50):  # until the server's goodbye has reached the socket
        if select.select([db._connections[0][2]], [], [], 0.1)[0]:
            break
    assert db.execute_sql("SELECT pg_backend_pid()").fetchone()[0] != pid
    db.close()
    assert len(checks) == 1  # the ended session was checked, and replaced
