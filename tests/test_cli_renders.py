"""cli/renders.py: `craftkit renders …` on a real database."""

from __future__ import annotations

import json
import uuid

from db.connection import connection
from db.models import Render
from tests.support import UUID_LINE, failed, ok


def test_renders_create_prints_a_uuid_of_that_project_and_mode(cli, acme):
    render_id = ok(cli("renders", "create", "--project", "acme", "--mode", "live")).strip()
    assert UUID_LINE.match(render_id)
    with connection():
        render = Render.get_by_id(uuid.UUID(render_id))
        assert (render.project.name, render.mode) == ("acme", "live")


def test_bad_mode_is_a_usage_error(cli, acme):
    result = cli("keys", "create", "--project", "acme", "--mode", "prod")
    assert result.exit_code == 2
    assert "'prod' is not one of 'test', 'live'" in result.stderr


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
