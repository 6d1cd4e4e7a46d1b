"""`craftkit keys …`: bearer API keys, shown once, stored as digests."""

from __future__ import annotations

import click

from cli.context import MODE, Context, database_errors, fail, pass_ctx, project
from db import keys, queries
from db.connection import connection
from db.errors import NotFound
from handlers.wire import iso_timestamp


@click.group("keys")
def keys_group() -> None:
    """Bearer API keys (only their digests are stored)."""


@keys_group.command("create")
@click.option("--project", "project_name", required=True, help="Project name.")
@click.option("--mode", type=MODE, default="test", show_default=True)
@pass_ctx
@database_errors
def keys_create(obj: Context, project_name: str, mode: str) -> None:
    """Create a key and print it once; it cannot be shown again."""
    obj.open()
    with connection():
        owner = project(project_name)
        new = keys.generate_key(mode)
        queries.store_api_key(owner, mode, new.digest, new.display_prefix)
    click.echo(new.plaintext)
    click.echo(
        f"Created {mode} key {new.display_prefix}… for {project_name!r}; store it now, "
        "it is not shown again.",
        err=True,
    )


@keys_group.command("revoke")
@click.argument("key_or_prefix")
@pass_ctx
@database_errors
def keys_revoke(obj: Context, key_or_prefix: str) -> None:
    """Revoke a key, named by the key itself or its display prefix (from `keys list`)."""
    obj.open()
    with connection():
        try:
            if keys.key_mode(key_or_prefix):
                key, revoked = queries.revoke_key(digest=keys.digest(key_or_prefix))
            else:
                key, revoked = queries.revoke_key(display_prefix=key_or_prefix.rstrip("…"))
        except NotFound as exc:
            fail(str(exc))
    if revoked:
        click.echo(f"Revoked {key.display_prefix}…")
    elif key.revoked_at_ms is not None:
        when = iso_timestamp(key.revoked_at_ms)
        click.echo(f"{key.display_prefix}… was already revoked at {when}; nothing changed")


@keys_group.command("list")
@click.option("--project", "project_name", required=True, help="Project name.")
@pass_ctx
@database_errors
def keys_list(obj: Context, project_name: str) -> None:
    """List a project's keys: display prefix, mode, created, revoked (never the key)."""
    obj.open()
    with connection():
        rows = queries.list_keys(project(project_name))
    click.echo(f"{'PREFIX':<20} {'MODE':<5} {'CREATED':<25} REVOKED")
    for key in rows:
        revoked = iso_timestamp(key.revoked_at_ms) if key.revoked_at_ms else "-"
        click.echo(
            f"{key.display_prefix + '…':<20} {key.mode:<5} "
            f"{iso_timestamp(key.created_at_ms):<25} {revoked}"
        )
