"""Tables: projects own API keys and renders; renders have shares, engagement events and counters.

These are the current schema (see `SCHEMA_VERSION` in db/migrations.py); a change here needs a
migration there, which brings databases of every earlier version to it.
"""

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
    """One event; `seq` gives a total order that breaks ties between equal timestamps.

    `public_id` is unique within its render: the id only ever appears in that render's `recent`.
    """

    seq = peewee.BigAutoField()
    public_id = peewee.CharField(max_length=64)
    # No index of its own: the two composite indexes below start with render_id.
    render = peewee.ForeignKeyField(Render, backref="events", on_delete="CASCADE", index=False)
    event_type = peewee.CharField(max_length=32)
    actor_kind = peewee.CharField(max_length=16)
    share = peewee.ForeignKeyField(Share, null=True, backref="events", on_delete="SET NULL")
    source_ip = peewee.CharField(max_length=64, null=True)
    user_agent = peewee.TextField(null=True)
    metadata_json = peewee.TextField(null=True)  # any JSON value; SQL NULL means JSON null
    created_at_ms = peewee.BigIntegerField()

    class Meta:
        indexes = (
            # recent events: newest first within one render (scanned backwards)
            (("render", "created_at_ms", "seq"), False),
            # ids are scoped per render; a replayed event is found here
            (("render", "public_id"), True),
        )


LINK_OPEN = "link_open"  # the counter of `viewed` events that came through a share link


class EventCounter(BaseModel):
    """How many events of one kind a render has: an event type, or LINK_OPEN.

    Written in the same transaction as the events it counts, so a summary reads a few rows
    whatever the number of events; `craftkit db recount` rebuilds it from the events.
    """

    render = peewee.ForeignKeyField(Render, on_delete="CASCADE", index=False)
    kind = peewee.CharField(max_length=32)
    count = peewee.BigIntegerField()

    class Meta:
        primary_key = peewee.CompositeKey("render", "kind")


MODELS: list[type[BaseModel]] = [Project, ApiKey, Render, Share, EngagementEvent, EventCounter]
