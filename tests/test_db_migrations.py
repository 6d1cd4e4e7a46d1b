"""db/migrations.py: a version-1 database, filled, migrated, answers exactly as before;
init idempotent; older, newer and foreign schemas refused."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from typing import Any

import peewee
import pytest
from click.testing import CliRunner

from api.config import Settings
from api.server.app import create_app
from cli.main import main
from db import queries, schema_v1
from db.connection import connection, database
from db.counters import counters_of, recount
from db.migrations import (
    SCHEMA_VERSION,
    SchemaVersion,
    SchemaVersionMismatch,
    check_schema,
    init_schema,
    migrate_schema,
    recreate_schema,
)
from db.models import MODELS
from tests.reference import reference_engagement
from tests.support import ROOT


def drop_everything() -> None:
    with connection():
        cascade = not isinstance(database.obj, peewee.SqliteDatabase)
        database.drop_tables([SchemaVersion, *MODELS], cascade=cascade, safe=True)


@pytest.fixture
def v1_database(database_url: str) -> Iterator[str]:
    """The test database emptied and made again as `craftkit db init` made it at version 1."""
    drop_everything()
    with connection():
        schema_v1.create(database.obj)
    yield database_url


def fill_v1(seed: int = 1) -> list[tuple[str, queries.KeyOwner]]:
    """Two projects, renders with and without events, shares and link opens, written with the
    frozen version-1 models; returns every render with an owner that may read it."""
    rng = random.Random(seed)
    v1 = schema_v1
    readable: list[tuple[str, queries.KeyOwner]] = []
    with connection(), database.bind_ctx(v1.MODELS), database.atomic():
        for p in range(2):
            project = v1.Project.create(name=f"p{p}", created_at_ms=1)
            for mode in ("test", "live"):
                for r in range(2):
                    render = v1.Render.create(
                        id=uuid.uuid4(), project=project, mode=mode, created_at_ms=2
                    )
                    owner = queries.KeyOwner(key_id=0, project_id=project.id, mode=mode)
                    readable.append((str(render.id), owner))
                    if r == 1 and mode == "live":
                        continue  # a render without events
                    shares = [
                        v1.Share.create(id=uuid.uuid4(), render=render, created_at_ms=3)
                        for _ in range(2)
                    ]
                    rows = [
                        {
                            "public_id": f"ev_{render.id.hex[:8]}_{n}",
                            "render": render.id,
                            "event_type": rng.choice(queries.EVENT_TYPES),
                            "actor_kind": rng.choice(queries.ACTOR_KINDS),
                            "share": rng.choice([None, *shares]),
                            "source_ip": rng.choice([None, "203.0.113.7"]),
                            "user_agent": rng.choice([None, "Mozilla/5.0"]),
                            "metadata_json": rng.choice([None, '{"page":1}', "[1,2]"]),
                            "created_at_ms": 1_780_000_000_000 + rng.randrange(50) * 1000,
                        }
                        for n in range(rng.randrange(5, 80))
                    ]
                    v1.EngagementEvent.insert_many(rows).execute()
    return readable


def summaries(readable: list[tuple[str, queries.KeyOwner]], fast: bool) -> list[Any]:
    summary = queries.render_engagement if fast else reference_engagement
    with connection():
        return [summary(render, owner, 25) for render, owner in readable]


def schema_shape() -> dict[str, Any]:
    """Columns and indexes of every table, as the database reports them."""
    with connection():
        return {
            table: (
                sorted((c.name, c.null, c.primary_key) for c in database.get_columns(table)),
                sorted((tuple(i.columns), i.unique) for i in database.get_indexes(table)),
            )
            for table in sorted(database.get_tables())
        }


def test_a_filled_version_1_database_migrates_with_every_summary_unchanged(v1_database):
    readable = fill_v1()
    before = summaries(readable, fast=False)  # computed from the events, on the v1 schema
    assert any(s.counts for s in before) and any(not s.counts for s in before)
    assert any(s.link_opens for s in before)

    assert migrate_schema() == [SCHEMA_VERSION]
    assert summaries(readable, fast=True) == before
    with connection():
        counted = counters_of()
        recount()
        assert counters_of() == counted


def test_a_migrated_schema_is_the_schema_a_new_database_gets(v1_database):
    fill_v1()
    migrate_schema()
    migrated = schema_shape()
    recreate_schema()
    assert schema_shape() == migrated


def test_migrate_is_idempotent_and_init_is_a_no_op_on_a_current_database(v1_database):
    fill_v1()
    assert migrate_schema() == [2]
    shape = schema_shape()
    assert migrate_schema() == []
    assert init_schema() == SCHEMA_VERSION
    assert schema_shape() == shape
    with connection():
        assert [r.version for r in SchemaVersion.select()] == [SCHEMA_VERSION]


def test_migrate_creates_the_current_schema_in_an_empty_database(database_url):
    drop_everything()
    assert migrate_schema() == []
    with connection():
        check_schema()
        assert SchemaVersion.get().version == SCHEMA_VERSION


def test_the_server_and_the_cli_refuse_an_older_schema_saying_to_migrate(v1_database, tmp_path):
    settings = Settings.from_env({}, database_url=v1_database, spec_path=str(ROOT / "openapi.yaml"))
    with pytest.raises(SchemaVersionMismatch, match="craftkit db migrate"):
        create_app(settings)
    with pytest.raises(SchemaVersionMismatch, match="craftkit db migrate"):
        init_schema()

    def cli(*args: str) -> Any:
        return CliRunner().invoke(main, ["--database-url", v1_database, *args])

    for args in (["serve"], ["db", "init"], ["projects", "create", "x"], ["db", "recount"]):
        result = cli(*args)
        assert result.exit_code == 1, (args, result.output)
        assert "version 1" in result.stderr and "craftkit db migrate" in result.stderr
    result = cli("db", "migrate")
    assert result.exit_code == 0, result.output
    assert "Migrating to version 2" in result.stderr
    assert "Schema migrated to version 2" in result.stdout
    assert "nothing to do" in cli("db", "migrate").stdout
    create_app(settings)  # starts now


def test_a_newer_schema_is_refused_too(database_url):
    with connection():
        SchemaVersion.update(version=SCHEMA_VERSION + 1).execute()
    for attempt in (check_schema, init_schema, migrate_schema):
        with pytest.raises(SchemaVersionMismatch, match="newer than this craftkit"):
            attempt()


def test_tables_not_made_by_craftkit_are_refused(database_url):
    drop_everything()
    with connection():
        database.execute_sql("CREATE TABLE something_else (x INTEGER)")
    try:
        with pytest.raises(SchemaVersionMismatch, match="not made by craftkit"):
            init_schema()
    finally:
        with connection():
            database.execute_sql("DROP TABLE something_else")


def test_init_is_idempotent_and_returns_the_version(database_url):
    assert init_schema() == SCHEMA_VERSION
    assert init_schema() == SCHEMA_VERSION
    with connection():
        assert [row.version for row in SchemaVersion.select()] == [SCHEMA_VERSION]
