"""cli/db.py: `craftkit db …` and the database URL handling every command shares."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cli.main import main
from db.connection import redact
from tests.support import cli_without, free_port, ok


def test_db_init_is_idempotent(cli):
    assert "Schema ready" in ok(cli("db", "init"))
    assert "Schema ready" in ok(cli("db", "init"))


def test_unreachable_database_is_one_readable_line(tmp_path):
    url = f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}"
    result = CliRunner().invoke(main, ["--database-url", url, "db", "init"])
    assert result.exit_code == 1
    assert "database error" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", [["db", "init"], ["demo"]])
def test_a_sqlite_file_in_a_missing_folder_says_so(tmp_path, command):
    folder = tmp_path / "missing-dir"
    result = CliRunner().invoke(main, ["--database-url", f"sqlite:///{folder / 'x.db'}", *command])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: database error: cannot open the SQLite file {folder / 'x.db'}: its folder "
        f"{folder} does not exist (create the folder, or point DATABASE_URL or --database-url "
        "elsewhere)\n"
    )
    assert "is the database running" not in result.stderr  # it is a file: nothing runs
    folder.mkdir()  # the fix it names works
    ok(CliRunner().invoke(main, ["--database-url", f"sqlite:///{folder / 'x.db'}", "db", "init"]))


def test_a_refused_postgresql_connection_is_one_line(tmp_path):
    """libpq's hint ("Is the server running …?") stays on the line, and is not said twice."""
    url = f"postgresql://postgres:hunter2@127.0.0.1:{free_port()}/test"
    result = CliRunner().invoke(main, ["--database-url", url, "db", "init"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: database error: connection to server at")
    assert result.stderr.count("\n") == 1, result.stderr  # one line
    assert "Connection refused. Is the server running" in result.stderr
    assert result.stderr.lower().count("running") == 1
    assert "hunter2" not in result.stderr


def test_driver_messages_are_folded_onto_one_line():
    from cli.context import one_line

    assert one_line("failed: Connection refused\n\tIs it running?\n") == (
        "failed: Connection refused. Is it running?"
    )
    assert one_line("FATAL:  role\n") == "FATAL: role"


@pytest.mark.parametrize("url", ["bogus", "mysql://root@127.0.0.1/test", "redis://localhost"])
def test_unsupported_database_urls_are_refused_with_the_fix(url):
    result = CliRunner().invoke(main, ["--database-url", url, "db", "init"])
    assert result.exit_code == 1
    assert "DATABASE_URL: unsupported scheme" in result.stderr
    assert "sqlite:///" in result.stderr and "postgresql://" in result.stderr
    assert "Traceback" not in result.output


def test_a_missing_driver_names_the_extra_to_install(tmp_path):
    """As on a machine without the postgres extra: psycopg2 made unimportable for a real run
    (and psycopg 3, which the bench and test extras bring and Peewee falls back to)."""
    url = "postgresql://postgres:hunter2@127.0.0.1:5432/test"
    done = cli_without(
        "psycopg2",
        "ImportError('no psycopg2 here')",
        ["--database-url", url, "db", "init"],
        tmp_path,
        also=("psycopg",),
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "psycopg2 postgres driver not found" in done.stderr
    assert "pip install -e '.[postgres]'" in done.stderr
    assert "hunter2" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_passwords_are_redacted_from_output():
    assert redact("postgresql://u:pw@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert redact("postgresql://u@h/d") == "postgresql://u@h/d"
    assert redact("sqlite:///x.db") == "sqlite:///x.db"


@pytest.mark.parametrize(
    "args",
    [
        ["projects", "list"],
        ["projects", "create", "acme"],
        ["keys", "list", "--project", "acme"],
        ["renders", "list", "--project", "acme"],
        ["serve", "--port", "1"],
    ],
)
def test_a_missing_database_is_named_and_never_created(tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        f"Error: no database at {tmp_path / 'craftkit.db'}: run `craftkit db init` to create it "
        "(or point DATABASE_URL or --database-url at an existing one)\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_db_init_and_demo_create_the_database(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert CliRunner().invoke(main, ["db", "init"]).exit_code == 0
    assert (tmp_path / "craftkit.db").exists()
    other = tmp_path / "other.db"
    assert CliRunner().invoke(main, ["--database-url", f"sqlite:///{other}", "demo"]).exit_code == 0
    assert other.exists()
