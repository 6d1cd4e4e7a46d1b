"""`craftkit`: serve the API and manage its data (click, as Flask's own CLI uses).

Each command family lives in its own module and is added here explicitly, so importing a
command module never registers anything by side effect.
"""

from __future__ import annotations

import sys

import click

from cli import contract, db, demo, events, keys, mock, projects, proxy, renders, serve
from cli.context import Context


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="craftkit-engagement", prog_name="craftkit")
@click.option(
    "--database-url",
    metavar="URL",
    help="Database URL (default: $DATABASE_URL, else sqlite:///craftkit.db).",
)
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
main.add_command(proxy.proxy)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
