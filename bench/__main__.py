"""`python -m bench` (`make bench`): run every section, write bench/results.md and its figures.

    python -m bench [--only throughput,inprocess] [section options; see --help]

A new section is a module with NAME, TITLE, add_arguments(parser) and run(args, out_dir) ->
report.Section, added to SECTIONS below (see bench/report.py).
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
from pathlib import Path
from types import ModuleType

from bench import engagement, machine, proxy, report, throughput

SECTIONS: tuple[ModuleType, ...] = (throughput, engagement, proxy)
RESULTS = Path(__file__).with_name("results.md")


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds, so every server the bench started is stopped


def main(argv: list[str] | None = None) -> None:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    names = [section.NAME for section in SECTIONS]
    parser.add_argument(
        "--only", default=",".join(names), help=f"comma-separated sections of {names}"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="the report to write")
    for section in SECTIONS:
        section.add_arguments(parser)
    args = parser.parse_args(argv)
    wanted = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        parser.error(f"unknown section(s) {unknown}; known: {names}")

    load_before, shared = machine.load(), machine.busy()
    done = []
    for section in SECTIONS:
        if section.NAME in wanted:
            print(f"== {section.TITLE}", file=sys.stderr)
            done.append(section.run(args, args.out.parent))
    shown = shlex.join(["python", "-m", "bench", *(sys.argv[1:] if argv is None else argv)])
    text = report.write(
        args.out,
        done,
        command=shown,
        load_before=load_before,
        load_after=machine.load(),
        shared=shared,
    )
    print(text)


if __name__ == "__main__":
    main()
