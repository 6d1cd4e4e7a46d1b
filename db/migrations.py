"""Schema versions: create the current schema, or bring an older one to it step by step.

`SCHEMA_VERSION` is the version db/models.py describes. `MIGRATIONS[n]` turns version n-1 into
version n with playhouse's migrator (the schema tool of the ORM we already use: portable
across SQLite and PostgreSQL, and each step runs in one transaction on both); version 1 is
frozen in db/schema_v1.py. A step names tables and indexes as they were, never through
db/models.py, so it keeps working after the models move on.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import cast

import peewee
from playhouse.migrate import SchemaMigrator, migrate

from db.connection import connection, database
from db.deadline import sqlite_file
from db.models import LINK_OPEN, MODELS, BaseModel

SCHEMA_VERSION = 2


class SchemaVersion(BaseModel):
    version = peewee.IntegerField()


class SchemaVersionMismatch(Exception):
    """The database's schema is not the one this code reads; the message says what to run."""


def _v2_counters_and_ids_per_render(db: peewee.Database) -> None:
    """Event counters per render and kind, filled from the events; event ids unique per render.

    Ids unique across all renders are unique per render too, so no event changes. The
    (render, event_type) index served the GROUP BY that counters replace, and render_id's own
    index is the prefix of two others: both go, which makes every insert cheaper.
    """
    migrator = SchemaMigrator.from_database(db)
    migrate(
        migrator.drop_index("engagement_event", "engagement_event_public_id"),
        migrator.drop_index("engagement_event", "engagement_event_render_id_event_type"),
        migrator.drop_index("engagement_event", "engagement_event_render_id"),
        migrator.add_index("engagement_event", ("render_id", "public_id"), unique=True),
    )

    class Counter(peewee.Model):  # frozen: the table as version 2 creates it
        render = peewee.ForeignKeyField(_Render, on_delete="CASCADE", index=False)
        kind = peewee.CharField(max_length=32)
        count = peewee.BigIntegerField()

        class Meta:
            table_name = "event_counter"
            primary_key = peewee.CompositeKey("render", "kind")

    with db.bind_ctx([Counter, _Render, _Event]):
        db.create_tables([Counter])
        by_type = _Event.select(
            _Event.render, _Event.event_type, peewee.fn.COUNT(peewee.SQL("*"))
        ).group_by(_Event.render, _Event.event_type)
        Counter.insert_from(by_type, [Counter.render, Counter.kind, Counter.count]).execute()
        link_opens = (
            _Event.select(_Event.render, peewee.Value(LINK_OPEN), peewee.fn.COUNT(peewee.SQL("*")))
            .where((_Event.event_type == "viewed") & _Event.share.is_null(False))
            .group_by(_Event.render)
        )
        Counter.insert_from(link_opens, [Counter.render, Counter.kind, Counter.count]).execute()


class _Render(peewee.Model):
    id = peewee.UUIDField(primary_key=True)

    class Meta:
        table_name = "render"


class _Event(peewee.Model):
    seq = peewee.BigAutoField()
    render = peewee.ForeignKeyField(_Render, index=False)
    event_type = peewee.CharField()
    share = peewee.UUIDField(null=True, column_name="share_id")

    class Meta:
        table_name = "engagement_event"


MIGRATIONS: dict[int, Callable[[peewee.Database], None]] = {
    2: _v2_counters_and_ids_per_render,
}
assert sorted(MIGRATIONS) == list(range(2, SCHEMA_VERSION + 1)), "one step per version"


def stored_version() -> int | None:
    """The schema version recorded in the database; None when it has no tables at all."""
    tables = set(database.get_tables())
    if SchemaVersion._meta.table_name not in tables:
        if tables:
            raise SchemaVersionMismatch(
                f"the database holds tables ({', '.join(sorted(tables))}) but no schema "
                "version: it was not made by craftkit; use an empty database"
            )
        return None
    row = SchemaVersion.select(SchemaVersion.version).order_by(SchemaVersion.id).first()
    if row is None:
        raise SchemaVersionMismatch("the schema_version table is empty; use an empty database")
    return int(row.version)


def check_version(version: int | None) -> None:
    """Raise SchemaVersionMismatch unless `version` is the one this code reads."""
    if version is None or version == SCHEMA_VERSION:
        return
    if version < SCHEMA_VERSION:
        raise SchemaVersionMismatch(
            f"the database schema is version {version}, this craftkit needs {SCHEMA_VERSION}: "
            "run `craftkit db migrate` (back the database up first)"
        )
    raise SchemaVersionMismatch(
        f"the database schema is version {version}, newer than this craftkit's "
        f"{SCHEMA_VERSION}: upgrade craftkit"
    )


def check_schema() -> None:
    """Refuse a database whose schema is older or newer than the code's (an empty one passes)."""
    with connection():
        check_version(stored_version())


def init_schema() -> int:
    """Create the current schema in an empty database; on a current one do nothing.

    An older schema is refused (SchemaVersionMismatch): bringing it forward is the job of
    `migrate_schema`, run on purpose, never as a side effect of starting a server.
    """
    with connection(), _locked():
        version = stored_version()
        if version is None:
            database.create_tables([SchemaVersion, *MODELS])
            SchemaVersion.create(version=SCHEMA_VERSION)
            return SCHEMA_VERSION
        check_version(version)
        return version


def migrate_schema(on_step: Callable[[int, str], None] | None = None) -> list[int]:
    """Bring the schema to SCHEMA_VERSION; return the versions applied ([] when current).

    Each step and its version bump commit together, so an interrupted run resumes where it
    stopped; concurrent runs wait for each other and the later one finds nothing to do.
    """
    applied: list[int] = []
    with connection():
        while True:
            with _locked():
                version = stored_version()
                if version is None:
                    database.create_tables([SchemaVersion, *MODELS])
                    SchemaVersion.create(version=SCHEMA_VERSION)
                    return applied
                if version > SCHEMA_VERSION:
                    check_version(version)
                if version == SCHEMA_VERSION:
                    return applied
                step = MIGRATIONS[version + 1]
                if on_step is not None:
                    on_step(version + 1, (step.__doc__ or "").split("\n")[0])
                step(cast(peewee.Database, database.obj))
                SchemaVersion.update(version=version + 1).execute()
                applied.append(version + 1)


@contextmanager
def _locked() -> Iterator[None]:
    """A transaction that holds the schema against concurrent init or migrate runs."""
    if isinstance(database.obj, peewee.SqliteDatabase):
        with database.obj.atomic(lock_type="IMMEDIATE"):  # the write lock, taken up front
            yield
        return
    with database.atomic():
        # An advisory lock: schema_version may not exist yet, so there is no table to lock.
        database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        yield


SCHEMA_LOCK = 0x636B7363  # any constant shared by every craftkit process


def recreate_schema() -> int:
    """Drop every table of the schema and create it empty: for tests and benchmarks only."""
    with connection():
        cascade = not isinstance(database.obj, peewee.SqliteDatabase)  # SQLite has no CASCADE
        database.drop_tables([SchemaVersion, *MODELS], cascade=cascade, safe=True)
    return init_schema()


def schema_problem() -> str | None:
    """Why the database cannot serve (missing tables, another schema version), or None.

    Unreachable raises DatabaseUnavailable, like any query; /readyz answers 503 either way. A
    SQLite file deleted while served is missing even though pooled connections still read it.
    """
    path = sqlite_file(database.obj)
    if path is not None and not os.path.exists(path):
        return "The database file is missing; run craftkit db init."
    with connection():
        existing = set(database.get_tables())
        missing = [m._meta.table_name for m in [SchemaVersion, *MODELS]]
        missing = [name for name in missing if name not in existing]
        if missing:
            return f"The database schema is missing ({', '.join(missing)}); run craftkit db init."
        try:
            check_version(stored_version())
        except SchemaVersionMismatch as exc:
            return f"The database cannot serve: {exc}."
    return None
