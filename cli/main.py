"""`craftkit`: serve the API and manage its data (click, as Flask's own CLI uses).

Each command family lives in its own module and is added here explicitly, so importing a
command module never registers anything by side effect.
"""

from __future__ import annotations

import sys

import click

from cli import contract, db, demo, events, keys, mock, projects, proxy, renders, serve, spec
from cli.context import Context

DATABASE_URL_HELP = "Database URL (default: $DATABASE_URL, else sqlite:///craftkit.db)."


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="craftkit-engagement", prog_name="craftkit")
@click.option("--database-url", metavar="URL", help=DATABASE_URL_HELP)
@click.pass_context
def main(ctx: click.Context, database_url: str | None) -> None:
    """Craftkit engagement API: a contract-first server for openapi.yaml.

    \b
    Shell completion (bash; zsh and fish likewise with zsh_source, fish_source):
      eval "$(_CRAFTKIT_COMPLETE=bash_source craftkit)"
    """
    ctx.obj = Context(database_url)


main.add_command(serve.serve)
main.add_command(db.db)
main.add_command(projects.projects)
main.add_command(keys.keys_group)
main.add_command(renders.renders)
main.add_command(events.events)
main.add_command(demo.demo)
main.add_command(mock.mock)
main.add_command(contract.contract_test)
main.add_command(spec.spec)
main.add_command(proxy.proxy)


def _database_url_after(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(Context).use_database_url(value)


def accept_database_url(command: click.Command) -> None:
    """`--database-url` after the command too (`craftkit serve --database-url …`), as users
    type it, for `command` and everything under it; the last one given wins."""
    command.params.append(
        click.Option(
            ["--database-url"],
            metavar="URL",
            expose_value=False,
            callback=_database_url_after,
            help=DATABASE_URL_HELP,
        )
    )
    for sub in getattr(command, "commands", {}).values():
        accept_database_url(sub)


# The commands that open the database (mock and contract-test never do).
for _command in (
    serve.serve,
    db.db,
    projects.projects,
    keys.keys_group,
    renders.renders,
    events.events,
    demo.demo,
):
    accept_database_url(_command)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
