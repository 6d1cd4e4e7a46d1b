"""db/migrations.py: idempotent creation, and a stored schema version that is compared."""

from __future__ import annotations

import pytest

from db.connection import connection
from db.migrations import SCHEMA_VERSION, SchemaVersion, SchemaVersionMismatch, init_schema


def test_init_is_idempotent_and_returns_the_version(database_url):
    assert init_schema() == SCHEMA_VERSION
    assert init_schema() == SCHEMA_VERSION
    with connection():
        assert [row.version for row in SchemaVersion.select()] == [SCHEMA_VERSION]


def test_a_database_of_another_version_is_refused(database_url):
    with connection():
        SchemaVersion.update(version=SCHEMA_VERSION + 1).execute()
    with pytest.raises(SchemaVersionMismatch, match=f"schema version {SCHEMA_VERSION + 1}"):
        init_schema()
