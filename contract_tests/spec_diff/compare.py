"""`make spec-diff-compare`: the labelled pairs through craftkit, Specmatic and oasdiff.

Writes the side-by-side table and totals into docs/spec-diff.md (between the `compare`
markers). Specmatic comes from npm (`npm i specmatic` into a cache folder, run on Java 17) with
`specmatic compare OLD NEW`, whose closing line says "backward compatible" or not.
oasdiff is looked for on PATH only: it is published for Go and as binaries, neither of which
this project's machines can fetch (see docs/spec-diff.md).

A peer's verdict counts as right when it says breaking exactly for the pairs labelled
breaking: a warning pair is right when the tool does not fail it, as craftkit does not either
(without --fail-on warning).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass

from contract_tests.spec_diff import cases
from contract_tests.spec_diff.load import load
from contract_tests.spec_diff.operations import diff
from contract_tests.spec_diff.report import verdict

DOC = cases.ROOT / "docs" / "spec-diff.md"
START, END = "<!-- compare:start -->", "<!-- compare:end -->"
SPECMATIC_VERSION = "2.55.1"


@dataclass
class Row:
    case: cases.Case
    ours: str
    specmatic: str
    oasdiff: str


def specmatic_command(cache: pathlib.Path) -> list[str] | None:
    binary = cache / "node_modules" / ".bin" / "specmatic"
    if not binary.exists():
        cache.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["npm", "i", "--no-audit", "--no-fund", f"specmatic@{SPECMATIC_VERSION}"],
            cwd=cache,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            print(f"specmatic: npm install failed: {done.stderr.strip()[-300:]}", file=sys.stderr)
            return None
    return [str(binary)]


def run_specmatic(command: list[str], base: pathlib.Path, revision: pathlib.Path) -> str:
    done = subprocess.run(
        [*command, "compare", str(base), str(revision)],
        cwd=base.parent,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = done.stdout + done.stderr
    # `compare` exits 0 either way (2.55): its last line says which.
    if "not backward compatible" in out:
        return "breaking"
    if "is backward compatible" in out:
        return "compatible"
    return "error"


def run_oasdiff(binary: str, base: pathlib.Path, revision: pathlib.Path) -> str:
    done = subprocess.run(
        [binary, "breaking", str(base), str(revision), "--fail-on", "ERR"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode == 0:
        return "warning" if "warning" in done.stdout.lower() else "compatible"
    return "breaking" if done.returncode == 1 else "error"


def right(expected: str, said: str) -> bool:
    if expected == "warning":
        return said in ("warning", "compatible")
    return said == expected


def table(rows: list[Row], specmatic_version: str, oasdiff_note: str) -> str:
    def mark(expected: str, said: str) -> str:
        if said == "n/a":
            return "n/a"
        return said if right(expected, said) else f"**{said}** ✗"

    lines = [
        f"Pairs: {len(rows)} (tests/data/spec_diff/cases.yaml). Peers: Specmatic "
        f"{specmatic_version} (`specmatic compare`), oasdiff: {oasdiff_note}.",
        "",
        "| Pair | Change | Expected | craftkit | Specmatic | oasdiff |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.case.id} | {row.case.kind} ({row.case.side}) | {row.case.expected} | "
            f"{mark(row.case.expected, row.ours)} | {mark(row.case.expected, row.specmatic)} | "
            f"{mark(row.case.expected, row.oasdiff)} |"
        )

    def total(pick: str) -> str:
        said = [getattr(row, pick) for row in rows]
        if all(s == "n/a" for s in said):
            return "n/a"
        good = sum(right(row.case.expected, s) for row, s in zip(rows, said, strict=True))
        return f"{good}/{len(rows)}"

    lines.append(
        f"| **Total right** | | | **{total('ours')}** | **{total('specmatic')}** | "
        f"**{total('oasdiff')}** |"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--cache",
        type=pathlib.Path,
        default=pathlib.Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser()
        / "craftkit-peers",
        help="Where npm installs Specmatic (default: ~/.cache/craftkit-peers).",
    )
    parser.add_argument("--only", help="Run only the pairs whose id contains this.")
    parser.add_argument("--start", type=int, default=0, help="Skip the first N pairs.")
    parser.add_argument("--no-write", action="store_true", help="Print the table only.")
    parser.add_argument(
        "--from-logs",
        nargs="+",
        type=pathlib.Path,
        help="Build the table from the per-pair lines of earlier runs (split runs).",
    )
    args = parser.parse_args(argv)
    if args.from_logs:
        return write_table(rows_from_logs(args.from_logs), SPECMATIC_VERSION, args.no_write)

    command = specmatic_command(args.cache)
    oasdiff = shutil.which("oasdiff")
    rows = []
    with tempfile.TemporaryDirectory(prefix="spec-diff-compare-") as tmp:
        for case in cases.cases()[args.start :]:
            if args.only and args.only not in case.id:
                continue
            base, revision = cases.write(case, pathlib.Path(tmp) / case.id)
            ours = verdict(diff(load(str(base)), load(str(revision))))
            theirs = run_specmatic(command, base, revision) if command else "n/a"
            other = run_oasdiff(oasdiff, base, revision) if oasdiff else "n/a"
            rows.append(Row(case, ours, theirs, other))
            print(f"{case.id}: expected {case.expected}, craftkit {ours}, specmatic {theirs}")
    version = SPECMATIC_VERSION if command else "(not installed)"
    return write_table(rows, version, args.no_write, oasdiff_found=oasdiff is not None)


LINE = re.compile(r"^(\S+): expected (\w+), craftkit (\w+), specmatic ([\w/]+)$")


def rows_from_logs(logs: list[pathlib.Path]) -> list[Row]:
    said: dict[str, tuple[str, str]] = {}
    for log in logs:
        for line in log.read_text(encoding="utf-8").splitlines():
            match = LINE.match(line.strip())
            if match:
                said[match[1]] = (match[3], match[4])
    return [Row(case, *said[case.id], "n/a") for case in cases.cases() if case.id in said]


def write_table(
    rows: list[Row], specmatic_version: str, dry: bool, *, oasdiff_found: bool = False
) -> int:
    oasdiff_note = "found on PATH" if oasdiff_found else "not installable here (see above)"
    written = table(rows, specmatic_version, oasdiff_note)
    print(written)
    if not dry:
        text = DOC.read_text(encoding="utf-8")
        pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
        DOC.write_text(pattern.sub(f"{START}\n{written}\n{END}", text), encoding="utf-8")
        print(f"written to {DOC.relative_to(cases.ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
