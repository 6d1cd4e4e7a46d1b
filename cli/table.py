"""Listings for people and for scripts: an aligned table on a terminal, JSON with `--json`."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import click

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print a JSON array (for scripts) instead of a table."
)


def echo_rows(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], as_json: bool) -> None:
    """`rows` as JSON (every key, in order) or as a table of `columns`, headed in capitals."""
    if as_json:
        click.echo(json.dumps(list(rows), indent=2))
        return
    cells = [[str(row[column]) for column in columns] for row in rows]
    widths = [
        max([len(column), *(len(line[i]) for line in cells)]) for i, column in enumerate(columns)
    ]
    heads = [re.sub(r"(?<=[a-z])([A-Z])", r" \1", column).upper() for column in columns]
    for line in [heads, *cells]:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        )
    if not rows:
        click.echo("(none)", err=True)
