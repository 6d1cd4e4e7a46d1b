"""cli/main.py: the `craftkit` group: help, settings, version, every command and flag."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cli.context import Context
from cli.main import main
from tests.support import ROOT, ok


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


# What `craftkit` offers; a command or flag lost in a refactoring fails here.
COMMANDS = {
    "": ["--database-url", "--version"],
    "contract-test": [
        "--allow-gaps",
        "--api-key",
        "--auth",
        "--bearer",
        "--config",
        "--foreign-api-key",
        "--foreign-auth",
        "--foreign-bearer",
        "--foreign-header",
        "--foreign-key",
        "--header",
        "--junit",
        "--key",
        "--max-examples",
        "--operation",
        "--path-param",
        "--render-id",
        "--report",
        "--seed",
        "--skip-check",
        "--spec",
        "--url",
    ],
    "db": ["--database-url"],
    "db init": ["--database-url"],
    "db migrate": ["--database-url"],
    "db recount": ["--database-url", "--render"],
    "demo": ["--base-url", "--database-url"],
    "events": ["--database-url"],
    "events record": ["--database-url", "--progress-every", "SOURCE"],
    "keys": ["--database-url"],
    "keys create": ["--database-url", "--mode", "--project"],
    "keys list": ["--database-url", "--project"],
    "keys revoke": ["--database-url", "KEY_OR_PREFIX"],
    "mock": [
        "--any-token",
        "--base-path",
        "--cors-origin",
        "--delay",
        "--host",
        "--keys",
        "--port",
        "--spec",
        "--token-pattern",
        "--watch",
    ],
    "projects": ["--database-url"],
    "projects create": ["--database-url", "NAME"],
    "projects list": ["--database-url", "--json"],
    "renders": ["--database-url"],
    "renders create": ["--database-url", "--mode", "--project"],
    "renders list": ["--database-url", "--json", "--mode", "--project"],
    "serve": ["--app", "--database-url", "--host", "--no-init", "--port", "--reload", "--workers"],
    "spec": [],
    "spec diff": ["--fail-on", "--format", "--output", "BASE", "REVISION"],
    "proxy": [
        "--host",
        "--junit",
        "--max-body",
        "--min-coverage",
        "--mode",
        "--port",
        "--report-json",
        "--report-path",
        "--spec",
        "--upstream",
        "--upstream-timeout",
    ],
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


@pytest.mark.parametrize("where", ["before", "after"])
def test_the_database_url_goes_before_or_after_the_command(tmp_path, where):
    """`craftkit serve --database-url …` as users type it, and `craftkit --database-url … serve`."""
    url = f"sqlite:///{tmp_path / 'here.db'}"
    option = ["--database-url", url]
    init = [*option, "db", "init"] if where == "before" else ["db", "init", *option]
    assert "Schema ready" in ok(CliRunner().invoke(main, init, env={"DATABASE_URL": None}))
    listed = ["projects", "create", "acme", *option]
    ok(CliRunner().invoke(main, listed, env={"DATABASE_URL": f"sqlite:///{tmp_path / 'no.db'}"}))
    assert (tmp_path / "here.db").exists() and not (tmp_path / "no.db").exists()
    shown = CliRunner().invoke(main, ["projects", "list", *option])
    assert "acme" in ok(shown)


def test_the_database_url_after_the_command_wins(tmp_path):
    before, after = tmp_path / "before.db", tmp_path / "after.db"
    args = ["--database-url", f"sqlite:///{before}", "db", "init"]
    ok(CliRunner().invoke(main, [*args, "--database-url", f"sqlite:///{after}"]))
    assert after.exists() and not before.exists()


def test_version_is_the_packages(cli):
    from importlib.metadata import version

    assert ok(cli("--version")) == f"craftkit, version {version('craftkit-engagement')}\n"


def test_shell_completion_script_is_printed():
    result = CliRunner().invoke(
        main, [], env={"_CRAFTKIT_COMPLETE": "bash_source"}, prog_name="craftkit"
    )
    assert "complete -o nosort -F _craftkit_completion craftkit" in result.output
