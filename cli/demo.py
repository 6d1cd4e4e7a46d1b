"""`craftkit demo`: a demo project, test key and render with events; safe to run again.

The demo key is written to a file beside the database (mode 600, a new file renamed into
place, never through a symlink) because only its digest is stored; a second run reuses it
while it is still valid, so the printed curl keeps working.
"""

from __future__ import annotations

import json
import os
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from cli.context import Context, database_errors, pass_ctx
from db import keys, queries
from db.connection import connection, database
from db.migrations import init_schema
from db.models import Render

DEMO_PROJECT = "demo"
DEMO_RENDER_ID = uuid.UUID("5f0c6a52-4d0e-4b8a-9a57-1d3c2e7b9f10")
DEMO_SHARES = [
    uuid.UUID("9a8b7c6d-5e4f-3a2b-1c0d-9e8f7a6b5c4d"),
    uuid.UUID("3c1d2e4f-7a8b-4c9d-8e0f-1a2b3c4d5e6f"),
]
START = datetime(2026, 6, 7, 9, 0, tzinfo=UTC)
AGENTS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile/15E148",
]


@click.command()
@click.option("--base-url", default=None, help="URL the printed curl should call.")
@pass_ctx
@database_errors
def demo(obj: Context, base_url: str | None) -> None:
    """Seed a demo project, test key and render with events; print a curl that works."""
    obj.open(create=True)
    init_schema()
    result = seed_demo(key_file_for(obj.settings.database_url))
    base_url = base_url or f"http://{obj.settings.host}:{obj.settings.port}"
    click.echo(f"Demo ready: render {result.render_id}, {result.events_added} new events.")
    click.echo("Try:")
    click.echo(
        f"  curl -s -H 'Authorization: Bearer {result.key}' "
        f"{base_url}/v1/renders/{result.render_id}/engagement"
    )


@dataclass(frozen=True)
class Demo:
    key: str
    render_id: uuid.UUID
    events_added: int


def demo_events() -> list[queries.NewEvent]:
    """Sixty events over two weeks: shares, views (many via links), downloads, prints, emails."""
    rng = random.Random(20260607)
    plan = (
        ["share_created"] * 2
        + ["email_sent"] * 3
        + ["email_opened"] * 7
        + ["viewed"] * 32
        + ["downloaded"] * 9
        + ["printed"] * 4
        + ["share_revoked"] * 1
        + ["viewed"] * 2
    )
    events = []
    for n, event_type in enumerate(plan, start=1):
        at = START + timedelta(minutes=n * 331 + rng.randint(0, 120))
        via_share = (
            event_type in ("viewed", "share_created", "share_revoked") and rng.random() < 0.6
        )
        actor = "system" if event_type in ("email_sent", "share_created") else "recipient"
        if event_type == "share_revoked":
            actor = "partner"
        metadata: object = None
        if event_type == "downloaded":
            metadata = {"format": "pdf", "bytes": rng.randint(80_000, 400_000)}
        elif event_type == "email_sent":
            metadata = {"to": f"client{n}@example.com"}
        elif event_type == "printed":
            metadata = ["A4", rng.randint(1, 3)]
        events.append(
            queries.NewEvent(
                line=n,
                public_id=f"ev_demo_{n:04d}",
                render_id=DEMO_RENDER_ID,
                event_type=event_type,
                actor_kind=actor,
                created_at_ms=int(at.timestamp() * 1000) + rng.randint(0, 999),
                share_id=DEMO_SHARES[n % 2] if via_share else None,
                source_ip=None if actor == "system" else f"203.0.113.{rng.randint(1, 254)}",
                user_agent=None if actor == "system" else rng.choice(AGENTS),
                metadata_json=None if metadata is None else json.dumps(metadata, sort_keys=True),
            )
        )
    return events


def key_file_for(database_url: str) -> Path:
    if database_url.startswith("sqlite:///"):
        db_path = Path(database_url.removeprefix("sqlite:///"))
        return db_path.with_name(db_path.name + ".demo-key")
    return Path("craftkit-demo-key")


def seed_demo(key_file: Path) -> Demo:
    """Create (or find) the demo and return a working test key for it."""
    with connection(), database.atomic():
        project, _ = queries.get_or_create_project(DEMO_PROJECT)
        if Render.get_or_none(Render.id == DEMO_RENDER_ID) is None:
            queries.create_render(project, "test", DEMO_RENDER_ID)
        added = queries.record_events(demo_events()).inserted
        key = _reuse_key(key_file)
        if key is None:
            new = keys.generate_key("test")
            queries.store_api_key(project, "test", new.digest, new.display_prefix)
            key = new.plaintext
        _save_key(key_file, key)  # again when reused: the file may have lost its mode 600
    return Demo(key=key, render_id=DEMO_RENDER_ID, events_added=added)


def _reuse_key(key_file: Path) -> str | None:
    """The key in `key_file` if it is a regular file (not a symlink) holding a valid key."""
    try:
        fd = os.open(key_file, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:  # missing, or a symlink (ELOOP): not ours to trust
        return None
    with os.fdopen(fd) as handle:
        key = handle.read(512).strip()
    if keys.key_mode(key) is None or queries.find_active_key(keys.digest(key)) is None:
        return None
    return key


def _save_key(key_file: Path, key: str) -> None:
    """Write the key to a new mode-600 file beside `key_file`, then rename it into place.

    A new file (O_EXCL, O_NOFOLLOW) gets its mode at creation, whatever a file already there
    had, and the rename replaces a symlink rather than writing through it.
    """
    key_file.parent.mkdir(parents=True, exist_ok=True)
    temporary = key_file.with_name(f".{key_file.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(key + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, key_file)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
