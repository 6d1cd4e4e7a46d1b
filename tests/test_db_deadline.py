"""db/deadline.py: a statement past its deadline is interrupted; one that ends in time is not."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import peewee
import pytest

from db.deadline import Watchdog, connect

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
