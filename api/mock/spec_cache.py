"""Documents the mock has loaded and validated before, kept parsed, so that starting again on
the same bytes (a restart, a `--watch` reload after the `--keys` file changed) skips the YAML
parse and the document checks: about 0.4 s of CPU for a 5 MB spec (api/openapi/yaml_events.py
and openapi-spec-validator-rs made them 4 s shorter; docs/mock.md has the figures).

An entry is keyed by the sha256 of the file's bytes with the Python, PyYAML and
openapi-spec-validator versions, so an edited file, or another version of either library, is
a new entry; only documents that passed validation are written. Entries are `marshal` data
(dicts, lists, strings, numbers: what a YAML document loads as here; no code runs on load),
in `$CRAFTKIT_SPEC_CACHE`, else `$XDG_CACHE_HOME/craftkit/specs`, else `~/.cache/craftkit/specs`;
`CRAFTKIT_SPEC_CACHE=off` turns it off. The newest 16 are kept; a cache that cannot be read
or written is skipped without a word.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import marshal
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ENV = "CRAFTKIT_SPEC_CACHE"
KEEP = 16
FORMAT = "1"


def directory() -> Path | None:
    configured = os.environ.get(ENV)
    if configured == "off":
        return None
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "craftkit" / "specs"


def key(data: bytes) -> str:
    digest = hashlib.sha256()
    for name in ("pyyaml", "openapi-spec-validator"):
        try:
            digest.update(f"{name}={importlib.metadata.version(name)};".encode())
        except importlib.metadata.PackageNotFoundError:
            digest.update(f"{name}=?;".encode())
    digest.update(f"python={sys.version};format={FORMAT};".encode())
    digest.update(data)
    return digest.hexdigest()


def load(data: bytes) -> dict[str, Any] | None:
    """The document validated before from these bytes, or None."""
    folder = directory()
    if folder is None:
        return None
    try:
        document = marshal.loads((folder / key(data)).read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return None
    return document if isinstance(document, dict) else None


def store(data: bytes, document: dict[str, Any]) -> None:
    """Keep a validated document parsed from `data`; any failure only costs the next start."""
    folder = directory()
    if folder is None:
        return
    try:
        encoded = marshal.dumps(document)
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, delete=False, suffix=".tmp") as out:
            out.write(encoded)
        os.replace(out.name, folder / key(data))
        entries = sorted(
            (p for p in folder.iterdir() if not p.name.endswith(".tmp")),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        for old in entries[KEEP:]:
            old.unlink(missing_ok=True)
    except (OSError, ValueError):
        return
