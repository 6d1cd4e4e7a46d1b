"""The first released schema (version 1, commit c8f28f2), frozen as it was.

Migrations start from these definitions, never from db/models.py, which moves on; tests build
a version-1 database from them to prove `craftkit db migrate` keeps every summary. Do not edit.
"""

from __future__ import annotations

import peewee


class _Frozen(peewee.Model):
    class Meta:
        database = None  # bound with Database.bind_ctx by whoever uses them
        legacy_table_names = False


class Project(_Frozen):
    name = peewee.CharField(max_length=200, unique=True)
    created_at_ms = peewee.BigIntegerField()


class ApiKey(_Frozen):
    project = peewee.ForeignKeyField(Project, backref="keys", on_delete="CASCADE")
    mode = peewee.CharField(max_length=4)
    digest = peewee.CharField(max_length=64, unique=True)
    display_prefix = peewee.CharField(max_length=32, unique=True)
    created_at_ms = peewee.BigIntegerField()
    revoked_at_ms = peewee.BigIntegerField(null=True)


class Render(_Frozen):
    id = peewee.UUIDField(primary_key=True)
    project = peewee.ForeignKeyField(Project, backref="renders", on_delete="CASCADE")
    mode = peewee.CharField(max_length=4)
    created_at_ms = peewee.BigIntegerField()

    class Meta:
        indexes = ((("project", "mode"), False),)


class Share(_Frozen):
    id = peewee.UUIDField(primary_key=True)
    render = peewee.ForeignKeyField(Render, backref="shares", on_delete="CASCADE")
    created_at_ms = peewee.BigIntegerField()
    revoked_at_ms = peewee.BigIntegerField(null=True)


class EngagementEvent(_Frozen):
    seq = peewee.BigAutoField()
    public_id = peewee.CharField(max_length=64, unique=True)
    render = peewee.ForeignKeyField(Render, backref="events", on_delete="CASCADE")
    event_type = peewee.CharField(max_length=32)
    actor_kind = peewee.CharField(max_length=16)
    share = peewee.ForeignKeyField(Share, null=True, backref="events", on_delete="SET NULL")
    source_ip = peewee.CharField(max_length=64, null=True)
    user_agent = peewee.TextField(null=True)
    metadata_json = peewee.TextField(null=True)
    created_at_ms = peewee.BigIntegerField()

    class Meta:
        indexes = (
            (("render", "created_at_ms", "seq"), False),
            (("render", "event_type"), False),
        )


class SchemaVersion(_Frozen):
    version = peewee.IntegerField()


MODELS: list[type[peewee.Model]] = [
    SchemaVersion,
    Project,
    ApiKey,
    Render,
    Share,
    EngagementEvent,
]


def create(db: peewee.Database) -> None:
    """Create an empty version-1 schema in `db`, as `craftkit db init` did at version 1."""
    with db.bind_ctx(MODELS), db.atomic():
        db.create_tables(MODELS)
        SchemaVersion.create(version=1)
