"""Schema creation and versioning, idempotent: `craftkit db init` may run any number of times."""

from __future__ import annotations

import peewee

from db.connection import connection, database
from db.models import MODELS, BaseModel

SCHEMA_VERSION = 1


class SchemaVersion(BaseModel):
    version = peewee.IntegerField()


class SchemaVersionMismatch(Exception):
    """The database holds a schema version this code does not know how to use."""


def init_schema() -> int:
    """Create every missing table and index; return the schema version now in place.

    A database stamped with another version is refused rather than half-used: there are no
    migrations between versions yet.
    """
    with connection(), database.atomic():
        database.create_tables([SchemaVersion, *MODELS], safe=True)
        row = SchemaVersion.select().first()
        if row is None:
            SchemaVersion.create(version=SCHEMA_VERSION)
            return SCHEMA_VERSION
        if int(row.version) != SCHEMA_VERSION:
            raise SchemaVersionMismatch(
                f"the database has schema version {row.version}; this craftkit uses "
                f"{SCHEMA_VERSION} and has no migration between them"
            )
        return SCHEMA_VERSION


def recreate_schema() -> int:
    """Drop every table of the schema and create it empty: for tests and benchmarks only."""
    with connection():
        cascade = not isinstance(database.obj, peewee.SqliteDatabase)  # SQLite has no CASCADE
        database.drop_tables([SchemaVersion, *MODELS], cascade=cascade, safe=True)
    return init_schema()
