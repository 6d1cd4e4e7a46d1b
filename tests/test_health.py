"""/livez says the process answers; /readyz says the database is reachable and its schema current.

`/healthz` stays as an alias of `/readyz` for existing probes. The server never creates a
SQLite file that is missing: only `craftkit db init` (and `craftkit demo`) do.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from api.config import Settings
from api.server.app import create_app
from cli.main import main
from db.connection import connection, database
from tests.support import ROOT
from tests.support import assert_small_envelope as assert_envelope

POSTGRES_URL = os.environ.get("CRAFTKIT_TEST_POSTGRES_URL", "")


def _client(database_url: str) -> TestClient:
    settings = Settings.from_env(
        {}, database_url=database_url, spec_path=str(ROOT / "openapi.yaml")
    )
    return TestClient(create_app(settings), follow_redirects=False)


@pytest.mark.parametrize("path", ["/readyz", "/healthz"])
def test_ready_when_the_schema_is_current(client: Any, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_live_answers_without_looking_at_the_database(client: Any) -> None:
    response = client.get("/livez")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_not_ready_without_the_schema(client: Any, database_url: str) -> None:
    with connection():
        tables = database.get_tables()
        database.execute_sql("DROP TABLE engagement_event")
    assert "engagement_event" in tables
    response = client.get("/readyz")
    error = assert_envelope(response, 503, "service_unavailable")
    assert response.headers["retry-after"]
    assert "schema" in error["message"]
    assert client.get("/livez").status_code == 200


def test_not_ready_with_an_older_schema(client: Any) -> None:
    with connection():
        database.execute_sql("UPDATE schema_version SET version = version - 1")
    error = assert_envelope(client.get("/readyz"), 503, "service_unavailable")
    assert "craftkit db migrate" in error["message"]


def test_a_missing_sqlite_file_is_never_created(tmp_path: Path) -> None:
    path = tmp_path / "gone.db"
    with _client(f"sqlite:///{path}") as client:
        assert_envelope(client.get("/readyz"), 503, "service_unavailable")
        response = client.get(
            "/v1/renders/5f0c6a52-4d0e-4b8a-9a57-1d3c2e7b9f10/engagement",
            headers={"Authorization": "Bearer ck_test_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
        )
        assert_envelope(response, 503, "service_unavailable")
        assert client.get("/livez").status_code == 200
    assert not path.exists()


def test_deleting_the_file_while_serving_is_not_ready_and_not_recreated(tmp_path: Path) -> None:
    path = tmp_path / "craftkit.db"
    url = f"sqlite:///{path}"
    assert CliRunner().invoke(main, ["--database-url", url, "db", "init"]).exit_code == 0
    with _client(url) as client:
        assert client.get("/readyz").status_code == 200
        for leftover in tmp_path.glob("craftkit.db*"):
            leftover.unlink()
        assert_envelope(client.get("/readyz"), 503, "service_unavailable")
        assert client.get("/livez").status_code == 200
    assert not path.exists()


@pytest.mark.parametrize(
    "command",
    [
        ["projects", "create", "acme"],
        ["renders", "create", "--project", "acme"],
        ["keys", "list", "--project", "acme"],
    ],
)
def test_cli_commands_other_than_init_do_not_create_the_file(tmp_path: Path, command: list) -> None:
    path = tmp_path / "missing.db"
    result = CliRunner().invoke(main, ["--database-url", f"sqlite:///{path}", *command])
    assert result.exit_code == 1
    assert "craftkit db init" in result.output
    assert "Traceback" not in result.output
    assert not path.exists()


def test_not_ready_says_why_the_database_is_unavailable_without_secrets() -> None:
    """A refused PostgreSQL connection: /readyz says so, but never the URL, host or password."""
    from tests.support import free_port

    url = f"postgresql://craftkit:hunter2@127.0.0.1:{free_port()}/secretdb"
    with _client(url) as client:
        error = assert_envelope(client.get("/readyz"), 503, "service_unavailable")
        assert client.get("/livez").status_code == 200
    assert (
        error["message"] == "The database is unavailable: it refuses connections (is it running?)."
    )
    for secret in ("hunter2", "craftkit:", "127.0.0.1", "secretdb", "postgresql"):
        assert secret not in error["message"]


def test_the_reason_never_repeats_the_drivers_words() -> None:
    from db.connection import DatabaseUnavailable, unavailable_reason

    wrapped = DatabaseUnavailable("x")
    wrapped.__cause__ = OSError('password "hunter2" rejected by host db.internal')
    assert unavailable_reason(wrapped) == "OSError from the driver"
    locked = DatabaseUnavailable("database is locked")
    assert unavailable_reason(locked) == "another writer holds the SQLite file's lock"


@pytest.mark.skipif(not POSTGRES_URL, reason="needs CRAFTKIT_TEST_POSTGRES_URL")
@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"user": "ck_no_such_user"}, "the user named in DATABASE_URL does not exist"),
        ({"database": "ck_no_such_database"}, "the database named in DATABASE_URL does not exist"),
    ],
)
def test_not_ready_names_a_missing_user_apart_from_a_missing_database(
    change: dict[str, str], reason: str
) -> None:
    """PostgreSQL answers `role "x" does not exist` for an unknown user, which /readyz used to
    report as a missing database: the operator looked for the wrong fix."""
    parts = urlsplit(POSTGRES_URL)
    user = change.get("user", parts.username or "postgres")
    database = change.get("database", parts.path.lstrip("/"))
    url = urlunsplit(parts._replace(netloc=f"{user}@{parts.hostname}:{parts.port or 5432}",
                                    path=f"/{database}"))  # fmt: skip
    with _client(url) as client:
        error = assert_envelope(client.get("/readyz"), 503, "service_unavailable")
    assert error["message"] == f"The database is unavailable: {reason}."
