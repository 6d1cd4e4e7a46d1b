"""The labelled pairs of tests/data/spec_diff/cases.yaml, written out as two files each.

A case is a real base document and a declared edit (JSON pointers), so every pair is made from
a published spec and says in one line what changed; the test suite and the peer comparison
(`make spec-diff-compare`) read the same list.
"""

from __future__ import annotations

import copy
import pathlib
from dataclasses import dataclass
from typing import Any

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "data" / "spec_diff" / "cases.yaml"


@dataclass(frozen=True)
class Case:
    id: str
    base: str
    expected: str
    side: str
    kind: str
    edits: tuple[dict[str, Any], ...]
    base_edits: tuple[dict[str, Any], ...] = ()
    swap: bool = False


def cases(path: pathlib.Path = CASES) -> list[Case]:
    listed = yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]
    return [
        Case(
            id=item["id"],
            base=item["base"],
            expected=item["expected"],
            side=item["side"],
            kind=item["kind"],
            edits=tuple(item["edits"]),
            base_edits=tuple(item.get("base_edits", ())),
            swap=bool(item.get("swap", False)),
        )
        for item in listed
    ]


def parts(pointer: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]


def parent(document: Any, pointer: str) -> tuple[Any, str]:
    *path, last = parts(pointer)
    node = document
    for part in path:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node, last


def apply(document: Any, edit: dict[str, Any]) -> None:
    """One edit: {set: P, value: V}, {remove: P}, {append: P, value: V} or {move: P, to: Q}."""
    if "set" in edit:
        node, key = parent(document, edit["set"])
        node[key] = copy.deepcopy(edit["value"])
    elif "remove" in edit:
        node, key = parent(document, edit["remove"])
        del node[int(key) if isinstance(node, list) else key]
    elif "append" in edit:
        node, key = parent(document, edit["append"])
        node[key].append(copy.deepcopy(edit["value"]))
    elif "move" in edit:
        node, key = parent(document, edit["move"])
        target, new_key = parent(document, edit["to"])
        target[new_key] = node.pop(key)
    else:
        raise ValueError(f"unknown edit {edit}")


def documents(case: Case) -> tuple[dict[str, Any], dict[str, Any]]:
    """(base, revision) of `case`, as parsed documents."""
    original = yaml.safe_load((ROOT / case.base).read_text(encoding="utf-8"))
    for edit in case.base_edits:
        apply(original, edit)
    edited = copy.deepcopy(original)
    for edit in case.edits:
        apply(edited, edit)
    return (edited, original) if case.swap else (original, edited)


def write(case: Case, folder: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    """The pair as two YAML files in `folder` (created): base.yaml and revision.yaml."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in zip(("base.yaml", "revision.yaml"), documents(case), strict=True):
        path = folder / name
        path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), "utf-8")
        written.append(path)
    return written[0], written[1]
