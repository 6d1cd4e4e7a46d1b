"""What a result was measured on: the machine, its load, and the versions that matter."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "connexion",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "flask",
    "a2wsgi",
    "jsonschema-rs",
    "jsonschema",
    "openapi-schema-validator",
    "orjson",
    "peewee",
    "psycopg2-binary",
    "fastapi",
    "pydantic",
    "psycopg",
    "psycopg-pool",
)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def load() -> str:
    """The 1, 5 and 15 minute load averages: how busy the machine was besides us."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def busy() -> bool:
    """Whether other work kept more than half the cores busy over the last minute."""
    return os.getloadavg()[0] > cores() / 2


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    try:
        wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
        found["wrk"] = (wrk.stdout or wrk.stderr).split()[1]
    except (OSError, IndexError):
        pass
    return found


def describe() -> list[str]:
    """Markdown lines: machine, memory, load now, versions."""
    return [
        f"- Machine: {platform.system()} {platform.machine()}, {cores()} cores usable "
        f"(nproc; {os.cpu_count()} online), {cpu_model()}, {memory()} memory",
        "- Versions: " + ", ".join(f"{name} {version}" for name, version in versions().items()),
    ]
