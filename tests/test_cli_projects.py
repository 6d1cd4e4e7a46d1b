"""cli/projects.py: `craftkit projects …` on a real database."""

from __future__ import annotations

import json

from tests.support import failed, ok


def test_projects_create_refuses_duplicates_and_empty_names(cli):
    assert "acme" in ok(cli("projects", "create", "acme"))
    assert "acme" in failed(cli("projects", "create", "acme"))
    assert "must not be empty" in failed(cli("projects", "create", "  "))


def test_commands_name_a_missing_project(cli):
    assert "No project named 'nope'" in failed(cli("renders", "create", "--project", "nope"))
    assert "No project named 'nope'" in failed(cli("keys", "create", "--project", "nope"))
    assert "No project named 'nope'" in failed(cli("keys", "list", "--project", "nope"))


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
