"""The hash-partitioned PostgreSQL layout of docs/scaling.md, as DDL.

Every query of the request path and of ingestion names one render, so events and counters are
partitioned by HASH (render_id): a render's events and its counters sit in partitions of the
same number, a query touches one partition, and moving partitions to other machines (Citus,
or a hand-made split) keeps a render whole. The server needs no change to use it: the tables
keep their names and columns; only keys grow to include render_id, as PostgreSQL requires of
a partitioned table's primary and unique keys. Not used by `craftkit db init`; the bench and
a test build it in a schema of their own to show it working.
"""

from __future__ import annotations

import peewee

from db.migrations import SCHEMA_VERSION


def partitioned_ddl(schema: str, partitions: int) -> list[str]:
    """Statements creating the current schema in `schema` with events and counters split
    into `partitions` hash partitions by render."""
    q = f'"{schema}"'
    statements = [
        f"CREATE SCHEMA {q}",
        f"""CREATE TABLE {q}.schema_version (id SERIAL PRIMARY KEY, version INTEGER NOT NULL)""",
        f"INSERT INTO {q}.schema_version (version) VALUES ({SCHEMA_VERSION})",
        f"""CREATE TABLE {q}.project (id SERIAL PRIMARY KEY, name VARCHAR(200) NOT NULL UNIQUE,
            created_at_ms BIGINT NOT NULL)""",
        f"""CREATE TABLE {q}.api_key (id SERIAL PRIMARY KEY,
            project_id INTEGER NOT NULL REFERENCES {q}.project (id) ON DELETE CASCADE,
            mode VARCHAR(4) NOT NULL, digest VARCHAR(64) NOT NULL UNIQUE,
            display_prefix VARCHAR(32) NOT NULL UNIQUE, created_at_ms BIGINT NOT NULL,
            revoked_at_ms BIGINT)""",
        f"""CREATE TABLE {q}.render (id UUID PRIMARY KEY,
            project_id INTEGER NOT NULL REFERENCES {q}.project (id) ON DELETE CASCADE,
            mode VARCHAR(4) NOT NULL, created_at_ms BIGINT NOT NULL)""",
        f"CREATE INDEX ON {q}.render (project_id, mode)",
        f"""CREATE TABLE {q}.share (id UUID PRIMARY KEY,
            render_id UUID NOT NULL REFERENCES {q}.render (id) ON DELETE CASCADE,
            created_at_ms BIGINT NOT NULL, revoked_at_ms BIGINT)""",
        f"""CREATE TABLE {q}.engagement_event (seq BIGSERIAL, public_id VARCHAR(64) NOT NULL,
            render_id UUID NOT NULL REFERENCES {q}.render (id) ON DELETE CASCADE,
            event_type VARCHAR(32) NOT NULL, actor_kind VARCHAR(16) NOT NULL,
            share_id UUID REFERENCES {q}.share (id) ON DELETE SET NULL,
            source_ip VARCHAR(64), user_agent TEXT, metadata_json TEXT,
            created_at_ms BIGINT NOT NULL,
            PRIMARY KEY (render_id, seq),
            UNIQUE (render_id, public_id)
        ) PARTITION BY HASH (render_id)""",
        f"CREATE INDEX ON {q}.engagement_event (render_id, created_at_ms, seq)",
        f"CREATE INDEX ON {q}.engagement_event (share_id)",
        f"""CREATE TABLE {q}.event_counter (
            render_id UUID NOT NULL REFERENCES {q}.render (id) ON DELETE CASCADE,
            kind VARCHAR(32) NOT NULL, count BIGINT NOT NULL,
            PRIMARY KEY (render_id, kind)
        ) PARTITION BY HASH (render_id)""",
    ]
    for table in ("engagement_event", "event_counter"):
        statements += [
            f"""CREATE TABLE {q}.{table}_p{n} PARTITION OF {q}.{table}
                FOR VALUES WITH (MODULUS {partitions}, REMAINDER {n})"""
            for n in range(partitions)
        ]
    return statements


def create_partitioned(db: peewee.PostgresqlDatabase, schema: str, partitions: int = 16) -> None:
    """Create the partitioned layout in a new `schema` of `db`, in one transaction."""
    with db.atomic():
        for statement in partitioned_ddl(schema, partitions):
            db.execute_sql(statement)


def drop_partitioned(db: peewee.PostgresqlDatabase, schema: str) -> None:
    db.execute_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
