"""Schema creation and versioning, idempotent: `craftkit db init` may run any number of times."""

from __future__ import annotations

import peewee

from db.connection import connection, database
from db.models import MODELS, BaseModel

SCHEMA_VERSION = 1


class SchemaVersion(BaseModel):
    version = peewee.IntegerField()


def init_schema() -> int:
    """Create every missing table and index; return the schema version now in place."""
    with connection(), database.atomic():
        database.create_tables([SchemaVersion, *MODELS], safe=True)
        row = SchemaVersion.select().first()
        if row is None:
            SchemaVersion.create(version=SCHEMA_VERSION)
            return SCHEMA_VERSION
        return int(row.version)


def recreate_schema() -> int:
    """Drop every table of the schema and create it empty: for tests and benchmarks only."""
    with connection():
        cascade = not isinstance(database.obj, peewee.SqliteDatabase)  # SQLite has no CASCADE
        database.drop_tables([SchemaVersion, *MODELS], cascade=cascade, safe=True)
    return init_schema()


def schema_ready() -> bool:
    """True when every table exists, so the server can answer rather than fail per request."""
    with connection():
        existing = set(database.get_tables())
    return all(m._meta.table_name in existing for m in [SchemaVersion, *MODELS])
