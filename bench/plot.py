"""Figures for bench/results.md (matplotlib, from the bench extra), drawn without a display."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers or in CI

import matplotlib.pyplot as plt

CRAFTKIT = "#1f6feb"
REFERENCE = "#8b949e"
REFERENCES = ("d", "g")  # drawn as vertical lines, and every bar's ratios are to them


@dataclass(frozen=True)
class Bar:
    label: str
    letter: str
    rates: list[float]  # req/s, one per round
    ours: bool  # craftkit (coloured) or a reference (grey)

    @property
    def median(self) -> float:
        return statistics.median(self.rates)


def throughput(bars: Sequence[Bar], path: Path) -> Path:
    """Horizontal bars of median req/s with the range over rounds; (d) and (g) as lines."""
    fig, ax = plt.subplots(figsize=(9, 0.6 * len(bars) + 1.6), dpi=110)
    positions = list(range(len(bars)))[::-1]
    medians = [bar.median for bar in bars]
    ax.barh(
        positions,
        medians,
        xerr=[
            [bar.median - min(bar.rates) for bar in bars],
            [max(bar.rates) - bar.median for bar in bars],
        ],
        color=[CRAFTKIT if bar.ours else REFERENCE for bar in bars],
        capsize=3,
    )
    ax.set_yticks(positions, [bar.label for bar in bars])
    ax.set_xlabel("requests per second, wrk -t2 -c32 (median and range over rounds)")
    references = {bar.letter: bar for bar in bars if bar.letter in REFERENCES}
    for bar, position in zip(bars, positions, strict=True):
        ratios = ", ".join(
            f"{bar.median / ref.median:.2f}x ({letter})"
            for letter, ref in references.items()
            if ref is not bar
        )
        ax.annotate(
            ratios,
            (max(bar.rates), position),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    for letter, style in zip(REFERENCES, (":", "--"), strict=True):
        if letter in references:
            ax.axvline(
                references[letter].median,
                color="black",
                linestyle=style,
                linewidth=0.8,
                label=f"({letter}) median",
            )
    ax.set_xlim(0, max(max(bar.rates) for bar in bars) * 1.35)
    if references:
        ax.legend(loc="lower right", fontsize=8)
    ax.set_title("GET /v1/renders/{id}/engagement, same answer from every server", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
