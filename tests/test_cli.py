"""The `craftkit` CLI on a real database: every command, its errors, and all-or-nothing imports."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result
from starlette.testclient import TestClient

from api.app import create_app
from cli.context import Context
from cli.main import main
from db import keys
from db.connection import connection, redact
from db.models import ApiKey, EngagementEvent, Render, Share
from tests.support import ROOT

UUID_LINE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """Run `craftkit --database-url <test db> ARGS…`; the environment cannot leak in."""
    monkeypatch.chdir(tmp_path)  # the demo key file of a non-SQLite database lands here
    for name in ("DATABASE_URL", "CRAFTKIT_RECENT_LIMIT", "CRAFTKIT_PORT", "CRAFTKIT_HOST"):
        monkeypatch.delenv(name, raising=False)

    def run(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(main, ["--database-url", database_url, *args], input=input)

    return run


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def failed(result: Result) -> str:
    """A clean failure: exit code 1 and a message, never a traceback."""
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    return result.stderr


def event_count() -> int:
    with connection():
        return EngagementEvent.select().count()


@pytest.fixture
def acme(cli: Any) -> dict[str, str]:
    """Project acme with a test render, made through the CLI."""
    ok(cli("projects", "create", "acme"))
    render = ok(cli("renders", "create", "--project", "acme", "--mode", "test")).strip()
    return {"render": render}


def line(render: str, **fields: Any) -> str:
    return json.dumps(
        {
            "renderId": render,
            "eventType": "viewed",
            "actorKind": "recipient",
            "createdAt": "2026-06-21T10:00:00.000Z",
            **fields,
        }
    )


# --- schema, projects, renders --------------------------------------------------------------


def test_db_init_is_idempotent(cli):
    assert "Schema ready" in ok(cli("db", "init"))
    assert "Schema ready" in ok(cli("db", "init"))


def test_unreachable_database_is_one_readable_line(tmp_path):
    url = f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}"
    result = CliRunner().invoke(main, ["--database-url", url, "db", "init"])
    assert result.exit_code == 1
    assert "database error" in result.stderr
    assert "Traceback" not in result.output


def test_projects_create_refuses_duplicates_and_empty_names(cli):
    assert "acme" in ok(cli("projects", "create", "acme"))
    assert "acme" in failed(cli("projects", "create", "acme"))
    assert "must not be empty" in failed(cli("projects", "create", "  "))


def test_renders_create_prints_a_uuid_of_that_project_and_mode(cli, acme):
    render_id = ok(cli("renders", "create", "--project", "acme", "--mode", "live")).strip()
    assert UUID_LINE.match(render_id)
    with connection():
        render = Render.get_by_id(uuid.UUID(render_id))
        assert (render.project.name, render.mode) == ("acme", "live")


def test_commands_name_a_missing_project(cli):
    assert "No project named 'nope'" in failed(cli("renders", "create", "--project", "nope"))
    assert "No project named 'nope'" in failed(cli("keys", "create", "--project", "nope"))
    assert "No project named 'nope'" in failed(cli("keys", "list", "--project", "nope"))


def test_bad_mode_is_a_usage_error(cli, acme):
    result = cli("keys", "create", "--project", "acme", "--mode", "prod")
    assert result.exit_code == 2
    assert "'prod' is not one of 'test', 'live'" in result.stderr


# --- keys -----------------------------------------------------------------------------------


def test_keys_create_prints_the_key_once_and_stores_only_its_digest(cli, acme, database_url):
    result = cli("keys", "create", "--project", "acme", "--mode", "live")
    key = ok(result).strip()
    assert keys.key_mode(key) == "live"
    assert "not shown again" in result.stderr
    with connection():
        row = ApiKey.get()
        assert row.digest == keys.digest(key)
        assert key.startswith(row.display_prefix) and len(row.display_prefix) < len(key) // 2
        stored = json.dumps([list(r) for r in ApiKey.select().tuples()], default=str)
    assert key not in stored
    if database_url.startswith("sqlite:///"):
        raw = Path(database_url.removeprefix("sqlite:///")).read_bytes()
        assert key.encode() not in raw


def test_keys_list_shows_prefix_mode_and_revocation_never_the_key(cli, acme):
    live = ok(cli("keys", "create", "--project", "acme", "--mode", "live")).strip()
    test = ok(cli("keys", "create", "--project", "acme", "--mode", "test")).strip()
    listing = ok(cli("keys", "list", "--project", "acme"))
    assert live not in listing and test not in listing
    assert keys.display_prefix(live) + "…" in listing
    assert keys.display_prefix(test) + "…" in listing
    assert listing.count(" - \n") + listing.count(" -\n") == 2  # neither revoked

    ok(cli("keys", "revoke", keys.display_prefix(live) + "…"))
    rows = {
        row.split()[0]: row for row in ok(cli("keys", "list", "--project", "acme")).splitlines()
    }
    assert rows[keys.display_prefix(live) + "…"].rstrip().endswith("Z")  # revoked at
    assert rows[keys.display_prefix(test) + "…"].rstrip().endswith("-")


def test_revoked_key_gets_401_at_once(cli, acme, settings):
    """At once with CRAFTKIT_KEY_CACHE_SECONDS=0; within that time otherwise (test_security)."""
    key = ok(cli("keys", "create", "--project", "acme", "--mode", "test")).strip()
    url = f"/v1/renders/{acme['render']}/engagement"
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(replace(settings, key_cache_seconds=0))) as client:
        assert client.get(url, headers=headers).status_code == 200
        assert "Revoked" in ok(cli("keys", "revoke", key))
        resp = client.get(url, headers=headers)
    assert "was already revoked at 20" in ok(cli("keys", "revoke", key))  # idempotent, and says so
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "unauthorized"


def test_revoking_an_unknown_key_fails_clearly(cli, acme):
    assert "No API key matches" in failed(cli("keys", "revoke", "ck_test_nothing"))
    missing = keys.generate_key("test").plaintext
    message = failed(cli("keys", "revoke", missing))
    assert "No API key matches" in message
    assert missing not in message  # a key is never echoed back


# --- events record --------------------------------------------------------------------------


def test_events_record_stores_a_file_and_replays_idempotently(cli, acme, tmp_path, settings):
    share = str(uuid.uuid4())
    path = tmp_path / "events.jsonl"
    path.write_text(
        "\n".join(
            [
                line(acme["render"], id="ev_a1", shareId=share, metadata={"page": 2}),
                "",
                line(acme["render"], id="ev_a2", eventType="downloaded", metadata=[1, "x"]),
                line(acme["render"], eventType="printed", actorKind="partner"),
            ]
        )
        + "\n"
    )
    assert "Recorded 3 events, skipped 0" in ok(cli("events", "record", str(path)))
    path.write_text(line(acme["render"], id="ev_a1", shareId=share, metadata={"page": 2}) + "\n")
    assert "Recorded 0 events, skipped 1" in ok(cli("events", "record", str(path)))
    assert event_count() == 3
    with connection():
        assert Share.select().count() == 1

    key = ok(cli("keys", "create", "--project", "acme")).strip()
    with TestClient(create_app(settings)) as client:
        body = client.get(
            f"/v1/renders/{acme['render']}/engagement",
            headers={"Authorization": f"Bearer {key}"},
        ).json()
    assert body["counts"]["viewed"] == 1 and body["linkOpens"] == 1
    assert body["counts"]["downloaded"] == 1 and body["counts"]["printed"] == 1
    assert {e["id"] for e in body["recent"]} >= {"ev_a1", "ev_a2"}


def test_events_record_reports_progress_as_plain_lines_when_not_on_a_terminal(cli, acme, tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text("".join(line(acme["render"]) + "\n" for _ in range(2500)))
    result = cli("events", "record", "--progress-every", "0", str(path))
    summary = ok(result)
    progress = [text for text in result.stderr.splitlines() if text.startswith("… ")]
    shape = r"… [\d,]+ lines \(\d+% of the file\), [\d,]+ lines/s"
    assert progress and all(re.fullmatch(shape, text) for text in progress), result.stderr
    assert [text.split()[1] for text in progress] == ["1,000", "2,000"]
    assert "\x1b[" not in result.stderr  # no terminal escapes in a log
    assert re.search(
        r"Recorded 2500 events, skipped 0 already stored, rejected 0 lines, in [\d.]+ s "
        r"\([\d,]+ events/s\)",
        summary,
    )
    quiet = cli("events", "record", str(path))  # every 5 s by default: none for a small file
    assert "… " not in quiet.stderr and ok(quiet)


def test_events_record_reads_stdin(cli, acme):
    result = cli("events", "record", "-", input=line(acme["render"]) + "\n")
    assert "Recorded 1 event," in ok(result)
    assert event_count() == 1


def test_bad_lines_are_named_and_nothing_is_written(cli, acme, tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(
        "\n".join(
            [
                line(acme["render"], id="ev_ok"),
                line(acme["render"], eventType="teleported"),
                "{not json",
                line(acme["render"], createdAt="2026-06-21T10:00:00"),
                json.dumps({"renderId": acme["render"], "colour": "red"}),
            ]
        )
    )
    message = failed(cli("events", "record", str(path)))
    assert "nothing recorded" in message
    assert "line 2: eventType: 'teleported' is not one of" in message
    assert "line 3: not valid JSON" in message
    assert "line 4: createdAt:" in message and "timezone" in message
    assert "line 5: eventType: required" in message and "colour: unknown field" in message
    assert "line 1" not in message
    assert event_count() == 0


def test_a_rejected_event_rolls_back_the_whole_batch(cli, acme, tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(
        "\n".join(
            [
                line(acme["render"], id="ev_first"),
                line(acme["render"], id="ev_second"),
                line(str(uuid.uuid4()), id="ev_third"),
            ]
        )
    )
    message = failed(cli("events", "record", str(path)))
    assert "line 3: renderId" in message and "does not exist" in message
    assert event_count() == 0


def test_same_id_with_other_content_is_an_error(cli, acme, tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(line(acme["render"], id="ev_x") + "\n")
    ok(cli("events", "record", str(path)))
    path.write_text(
        line(acme["render"], id="ev_new")
        + "\n"
        + line(acme["render"], id="ev_x", eventType="downloaded")
        + "\n"
    )
    message = failed(cli("events", "record", str(path)))
    assert f"line 2: id ev_x of render {acme['render']} is already stored with other content" in (
        message
    )
    assert event_count() == 1  # ev_new was not written either

    path.write_text(
        line(acme["render"], id="ev_y") + "\n" + line(acme["render"], id="ev_y", sourceIp="::1")
    )
    assert f"line 2: id ev_y of render {acme['render']} appears on line 1 with other content" in (
        failed(cli("events", "record", str(path)))
    )
    assert event_count() == 1

    # The same, batches apart: the earlier copy is found in the database, in this transaction.
    filler = [line(acme["render"]) for _ in range(600)]
    first, again = line(acme["render"], id="ev_z"), line(acme["render"], id="ev_z", sourceIp="::1")
    path.write_text("\n".join([first, *filler, again]) + "\n")
    assert (
        f"line 602: id ev_z of render {acme['render']} appears earlier in this file with other "
        "content" in failed(cli("events", "record", str(path)))
    )
    assert event_count() == 1


def test_missing_file_is_a_usage_error(cli, tmp_path):
    result = cli("events", "record", str(tmp_path / "nope.jsonl"))
    assert result.exit_code == 2
    assert "No such file or directory" in result.stderr


# --- demo -----------------------------------------------------------------------------------


def demo_curl(output: str) -> tuple[str, str]:
    match = re.search(r"curl -s -H 'Authorization: Bearer (\S+)' (\S+)", output)
    assert match, output
    return match.group(1), match.group(2)


def test_demo_prints_a_curl_that_works_and_reuses_it_when_run_again(cli, settings):
    first = ok(cli("demo"))
    assert "60 new events" in first
    key, url = demo_curl(first)
    assert url.startswith("http://127.0.0.1:8080/v1/renders/")

    second = ok(cli("demo"))
    assert "0 new events" in second
    assert demo_curl(second) == (key, url)
    assert event_count() == 60

    path = url.removeprefix("http://127.0.0.1:8080")
    with TestClient(create_app(settings)) as client:
        resp = client.get(path, headers={"Authorization": f"Bearer {key}"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["total"] == 60 == sum(body["counts"].values())
    assert all(body["counts"][t] > 0 for t in body["counts"])
    assert 0 < body["linkOpens"] < body["counts"]["viewed"]
    assert len(body["recent"]) == 20


def test_demo_mints_a_new_key_when_the_saved_one_was_revoked(cli, database_url):
    key, _ = demo_curl(ok(cli("demo")))
    ok(cli("keys", "revoke", key))
    new_key, _ = demo_curl(ok(cli("demo")))
    assert new_key != key
    assert keys.key_mode(new_key) == "test"


# --- help and settings ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ([], ["serve", "db", "projects", "keys", "renders", "events", "demo", "--database-url"]),
        (["serve"], ["--host", "--port", "--workers"]),
        (["db", "init"], ["empty database", "nothing happens"]),
        (["db", "migrate"], ["safe to run again"]),
        (["db", "recount"], ["--render", "counters"]),
        (["projects", "create"], ["NAME"]),
        (["keys", "create"], ["--project", "--mode", "[test|live]"]),
        (["keys", "revoke"], ["display prefix"]),
        (["keys", "list"], ["never the key"]),
        (["renders", "create"], ["UUID", "--mode"]),
        (["events", "record"], ["renderId", "createdAt", "timezone", "all or nothing"]),
        (["demo"], ["curl"]),
    ],
)
def test_help_is_useful(command, expected):
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    missing = [word for word in expected if word not in text]
    assert not missing, f"{command}: {missing} not in help:\n{result.output}"


def test_bad_environment_setting_is_named(monkeypatch):
    monkeypatch.setenv("CRAFTKIT_RECENT_LIMIT", "lots")
    result = CliRunner().invoke(main, ["db", "init"])
    assert result.exit_code == 2
    assert "CRAFTKIT_RECENT_LIMIT" in result.stderr


def test_the_cli_reads_its_settings_from_the_environment(monkeypatch):
    monkeypatch.delenv("CRAFTKIT_SPEC", raising=False)
    assert Path(Context(None).settings.spec_path) == ROOT / "openapi.yaml"
    monkeypatch.setenv("CRAFTKIT_SPEC", "/elsewhere.yaml")
    assert Context(None).settings.spec_path == "/elsewhere.yaml"


# --- every command and flag -----------------------------------------------------------------

# What `craftkit` offers; a command or flag lost in a refactoring fails here.
COMMANDS = {
    "": ["--database-url", "--version"],
    "contract-test": [
        "--allow-gaps",
        "--config",
        "--foreign-key",
        "--junit",
        "--key",
        "--max-examples",
        "--render-id",
        "--seed",
        "--url",
    ],
    "db": [],
    "db init": [],
    "db migrate": [],
    "db recount": ["--render"],
    "demo": ["--base-url"],
    "events": [],
    "events record": ["--progress-every", "SOURCE"],
    "keys": [],
    "keys create": ["--mode", "--project"],
    "keys list": ["--project"],
    "keys revoke": ["KEY_OR_PREFIX"],
    "mock": [
        "--any-token",
        "--cors-origin",
        "--delay",
        "--host",
        "--keys",
        "--port",
        "--spec",
        "--token-pattern",
        "--watch",
    ],
    "projects": [],
    "projects create": ["NAME"],
    "projects list": ["--json"],
    "renders": [],
    "renders create": ["--mode", "--project"],
    "renders list": ["--json", "--mode", "--project"],
    "serve": ["--app", "--host", "--no-init", "--port", "--reload", "--workers"],
}


def command_table(command: click.Command, path: str = "") -> dict[str, list[str]]:
    """{command path: its flags and arguments}, for the group and every command below it."""
    params = sorted(
        opt if isinstance(param, click.Option) else str(param.name).upper()
        for param in command.params
        for opt in (param.opts if isinstance(param, click.Option) else [""])
    )
    table = {path: params}
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            table |= command_table(sub, f"{path} {name}".strip())
    return table


def test_every_command_and_flag_is_still_there():
    assert command_table(main) == COMMANDS


def test_a_lost_flag_would_be_caught():
    trimmed = click.Group("craftkit", commands={"serve": click.Command("serve")})
    assert command_table(trimmed) != COMMANDS


# --- database URLs --------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["bogus", "mysql://root@127.0.0.1/test", "redis://localhost"])
def test_unsupported_database_urls_are_refused_with_the_fix(url):
    result = CliRunner().invoke(main, ["--database-url", url, "db", "init"])
    assert result.exit_code == 1
    assert "DATABASE_URL: unsupported scheme" in result.stderr
    assert "sqlite:///" in result.stderr and "postgresql://" in result.stderr
    assert "Traceback" not in result.output


def test_a_missing_driver_names_the_extra_to_install(tmp_path):
    """As on a machine without the postgres extra: psycopg2 made unimportable for a real run."""
    blocker = tmp_path / "psycopg2"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('no psycopg2 here')\n")
    url = "postgresql://postgres:hunter2@127.0.0.1:5432/test"
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "--database-url", url, "db", "init"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "psycopg2 postgres driver not found" in done.stderr
    assert "pip install -e '.[postgres]'" in done.stderr
    assert "hunter2" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_contract_test_without_the_contract_extra_says_how_to_install_it(tmp_path):
    """As on a plain install: schemathesis made unimportable; one line, no traceback."""
    blocker = tmp_path / "schemathesis"
    blocker.mkdir()
    (blocker / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'schemathesis'\", name='schemathesis')\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "contract-test", "--url", "http://x", "--key", "k"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "schemathesis is missing: install the contract extra" in done.stderr
    assert "pip install 'craftkit-engagement[contract]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_passwords_are_redacted_from_output():
    assert redact("postgresql://u:pw@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert redact("postgresql://u@h/d") == "postgresql://u@h/d"
    assert redact("sqlite:///x.db") == "sqlite:///x.db"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("openapi: 3.1.0\npaths: {}\n", 'Invalid OpenAPI 3.1.0 document: "info" is a required'),
        ("openapi: 3.1.0\ninfo: [\n", "not valid YAML or JSON: expected the node content"),
        ("- just\n- a list\n", "not an OpenAPI document (top level is not a map)"),
    ],
)
def test_serve_refuses_a_broken_spec_in_one_line(tmp_path, document, message):
    spec = tmp_path / "broken.yaml"
    spec.write_text(document)
    url = f"sqlite:///{tmp_path / 'x.db'}"
    result = CliRunner().invoke(
        main, ["--database-url", url, "serve", "--port", "1"], env={"CRAFTKIT_SPEC": str(spec)}
    )
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {spec}: {message}")
    assert "Traceback" not in result.output and len(result.stderr.splitlines()) == 1


def test_yaml_errors_name_the_line(tmp_path):
    spec = tmp_path / "broken.yaml"
    spec.write_text("openapi: 3.1.0\ninfo:\n  title: x\n  version: [\n")
    result = CliRunner().invoke(
        main, ["serve", "--port", "1", "--no-init"], env={"CRAFTKIT_SPEC": str(spec)}
    )
    assert "at line 5, column 1" in result.stderr


def test_every_problem_of_a_line_is_named_at_once(cli, acme, tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(
        json.dumps(
            {
                "renderId": "not-a-uuid",
                "eventType": "viewed",
                "actorKind": "robot",
                "createdAt": "2026-06-21T10:00:00Z",
                "extra": 1,
            }
        )
    )
    message = failed(cli("events", "record", str(path)))
    assert "extra: unknown field" in message
    assert "renderId: 'not-a-uuid' is not a UUID" in message
    assert "actorKind: 'robot' is not one of" in message


def test_every_stored_state_conflict_is_named_at_once(cli, acme, tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(line(acme["render"], id="ev_1") + "\n")
    ok(cli("events", "record", str(path)))
    path.write_text(
        "\n".join(
            [
                line(str(uuid.uuid4())),
                line(acme["render"], id="ev_1", eventType="printed"),
                line(acme["render"], id="ev_dup"),
                line(acme["render"], id="ev_dup", eventType="printed"),
                line(acme["render"], id="ev_fine"),
            ]
        )
    )
    message = failed(cli("events", "record", str(path)))
    assert "line 1: renderId" in message and "does not exist" in message
    render = acme["render"]
    assert f"line 2: id ev_1 of render {render} is already stored with other content" in message
    assert f"line 4: id ev_dup of render {render} appears on line 3 with other content" in message
    assert "line 5" not in message
    assert event_count() == 1


def test_the_readme_events_line_records_on_the_demo_database_and_replays(cli, tmp_path):
    readme = (ROOT / "README.md").read_text()
    sample = re.search(r"```json\n(\{.+\})\n```", readme)
    assert sample, "README shows an events line"
    ok(cli("demo"))
    path = tmp_path / "readme.jsonl"
    path.write_text(sample.group(1) + "\n")
    assert "Recorded 1 event, skipped 0" in ok(cli("events", "record", str(path)))
    assert "Recorded 0 events, skipped 1" in ok(cli("events", "record", str(path)))


# --- listings, version, completion, missing databases ----------------------------------------


def test_version_is_the_packages(cli):
    from importlib.metadata import version

    assert ok(cli("--version")) == f"craftkit, version {version('craftkit-engagement')}\n"


def test_projects_list_as_a_table_and_as_json(cli, acme):
    ok(cli("keys", "create", "--project", "acme"))
    revoked = ok(cli("keys", "create", "--project", "acme")).strip()
    ok(cli("keys", "revoke", revoked))
    ok(cli("projects", "create", "zeta"))
    table = ok(cli("projects", "list")).splitlines()
    assert table[0].split() == ["NAME", "CREATED", "RENDERS", "ACTIVE", "KEYS"]
    assert [row.split()[0] for row in table[1:]] == ["acme", "zeta"]
    listed = json.loads(ok(cli("projects", "list", "--json")))
    assert [(p["name"], p["renders"], p["activeKeys"]) for p in listed] == [
        ("acme", 1, 1),
        ("zeta", 0, 0),
    ]


def test_renders_list_by_project_and_mode(cli, acme):
    live = ok(cli("renders", "create", "--project", "acme", "--mode", "live")).strip()
    listed = json.loads(ok(cli("renders", "list", "--project", "acme", "--json")))
    assert [(r["id"], r["mode"]) for r in listed] == [(acme["render"], "test"), (live, "live")]
    only_live = json.loads(
        ok(cli("renders", "list", "--project", "acme", "--mode", "live", "--json"))
    )
    assert [r["id"] for r in only_live] == [live]
    table = ok(cli("renders", "list", "--project", "acme")).splitlines()
    assert table[0].split() == ["ID", "MODE", "CREATED"] and live in table[2]
    assert "no project" in failed(cli("renders", "list", "--project", "nope")).lower()


def test_shell_completion_script_is_printed():
    result = CliRunner().invoke(
        main, [], env={"_CRAFTKIT_COMPLETE": "bash_source"}, prog_name="craftkit"
    )
    assert "complete -o nosort -F _craftkit_completion craftkit" in result.output


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


def test_serve_reload_runs_one_worker():
    result = CliRunner().invoke(main, ["serve", "--reload", "--workers", "2"])
    assert result.exit_code == 1 and "--reload runs one worker" in result.stderr


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"renderId": "x" "eventType": "viewed"}', "Expecting ',' delimiter at column 18"),
        (
            '{"renderId": "x",',
            "Expecting property name enclosed in double quotes at the end of the line (column 18)",
        ),
        ('{"renderId": ', "Expecting value at the end of the line (column 14)"),
    ],
)
def test_json_errors_name_the_column_of_the_line(cli, acme, tmp_path, text, where):
    path = tmp_path / "events.jsonl"
    path.write_text(line(acme["render"]) + "\n" + text + "\n" + line(acme["render"]) + "\n")
    message = failed(cli("events", "record", str(path)))
    assert f"line 2: not valid JSON ({where})" in message
