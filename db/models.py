"""Tables: projects own API keys and renders; renders have shares and engagement events."""

from __future__ import annotations

import peewee

from db.connection import database


class BaseModel(peewee.Model):
    class Meta:
        database = database
        legacy_table_names = False


class Project(BaseModel):
    name = peewee.CharField(max_length=200, unique=True)
    created_at_ms = peewee.BigIntegerField()


class ApiKey(BaseModel):
    """A bearer key, stored only as its SHA-256 digest and a short prefix shown to people."""

    project = peewee.ForeignKeyField(Project, backref="keys", on_delete="CASCADE")
    mode = peewee.CharField(max_length=4)  # "live" or "test", from the key's prefix
    digest = peewee.CharField(max_length=64, unique=True)
    display_prefix = peewee.CharField(max_length=32, unique=True)
    created_at_ms = peewee.BigIntegerField()
    revoked_at_ms = peewee.BigIntegerField(null=True)


class Render(BaseModel):
    id = peewee.UUIDField(primary_key=True)
    project = peewee.ForeignKeyField(Project, backref="renders", on_delete="CASCADE")
    mode = peewee.CharField(max_length=4)
    created_at_ms = peewee.BigIntegerField()

    class Meta:
        indexes = ((("project", "mode"), False),)


class Share(BaseModel):
    id = peewee.UUIDField(primary_key=True)
    render = peewee.ForeignKeyField(Render, backref="shares", on_delete="CASCADE")
    created_at_ms = peewee.BigIntegerField()
    revoked_at_ms = peewee.BigIntegerField(null=True)


class EngagementEvent(BaseModel):
    """One event; `seq` gives a total order that breaks ties between equal timestamps."""

    seq = peewee.BigAutoField()
    public_id = peewee.CharField(max_length=64, unique=True)
    render = peewee.ForeignKeyField(Render, backref="events", on_delete="CASCADE")
    event_type = peewee.CharField(max_length=32)
    actor_kind = peewee.CharField(max_length=16)
    share = peewee.ForeignKeyField(Share, null=True, backref="events", on_delete="SET NULL")
    source_ip = peewee.CharField(max_length=64, null=True)
    user_agent = peewee.TextField(null=True)
    metadata_json = peewee.TextField(null=True)  # any JSON value; SQL NULL means JSON null
    created_at_ms = peewee.BigIntegerField()

    class Meta:
        indexes = (
            # recent events: newest first within one render
            (("render", "created_at_ms", "seq"), False),
            # counts by type
            (("render", "event_type"), False),
        )


MODELS: list[type[BaseModel]] = [Project, ApiKey, Render, Share, EngagementEvent]
