"""bench/results.md, assembled from the sections the benchmark ran.

A section is a module in bench/ with `NAME`, `TITLE`, `add_arguments(parser)` and
`run(args, out_dir) -> Section`; `bench/__main__.py` lists them in order. A section may draw
figures: it saves PNGs in `out_dir` (beside results.md) and links them from its markdown.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import machine


@dataclass
class Section:
    title: str
    lines: list[str]  # markdown, without the heading
    figures: list[Path] = field(default_factory=list)


def spread(values: Sequence[float], scale: float = 1.0, digits: int = 0) -> str:
    """`median (min-max)` of `values` times `scale`, e.g. `812 (790-840)`."""
    median = statistics.median(values) * scale
    low, high = min(values) * scale, max(values) * scale
    if len(values) == 1:
        return f"{median:,.{digits}f}"
    return f"{median:,.{digits}f} ({low:,.{digits}f}-{high:,.{digits}f})"


def table(header: Sequence[str], rows: Sequence[Sequence[str]], right: int = 1) -> list[str]:
    """A markdown table; columns from `right` on are right-aligned."""
    align = ["---" if n < right else "---:" for n in range(len(header))]
    return [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(align) + " |",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def write(
    path: Path,
    sections: Sequence[Section],
    *,
    command: str,
    load_before: str,
    load_after: str,
    shared: bool,
) -> str:
    """Write results.md from `sections`; return its text."""
    sharing = (
        "**The machine was shared during this run** (other work kept more than half its cores "
        "busy before it started). "
        if shared
        else ""
    )
    lines = [
        "# Benchmark: GET /v1/renders/{id}/engagement",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `{command}`.",
        "",
        *machine.describe(),
        f"- Load average (1/5/15 min) before: {load_before}; after: {load_after}. {sharing}"
        "Compare ratios within this run, not absolute figures across runs or machines.",
        "",
    ]
    for section in sections:
        lines += [f"## {section.title}", "", *section.lines, ""]
    text = "\n".join(lines)
    path.write_text(text)
    return text
