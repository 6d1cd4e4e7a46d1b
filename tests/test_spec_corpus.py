"""The corpus of real public OpenAPI documents (tests/data/specs/) stays what its manifest says.

The mock, contract-test, proxy and spec-diff tests run on these documents and pick them by the
manifest's features, so a manifest that drifts from the files would make those tests prove less
than they claim. Checked here: every file has an entry and every entry a file, a source and a
licence; the bytes are the ones published (sha256); each document parses, its `openapi` is the
manifest's, openapi-spec-validator accepts it (or rejects it where the manifest says `invalid`),
and the features that can be read off the document are the ones listed.
"""

from __future__ import annotations

import copy
import hashlib
import shutil
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_spec_validator import (
    OpenAPIV30SpecValidator,
    OpenAPIV31SpecValidator,
    OpenAPIV32SpecValidator,
    validate,
)

from tests.support import ROOT

SPECS = ROOT / "tests" / "data" / "specs"
NOT_SPECS = {"manifest.yaml", "README.md"}
VALIDATORS = {
    "3.0": OpenAPIV30SpecValidator,
    "3.1": OpenAPIV31SpecValidator,
    "3.2": OpenAPIV32SpecValidator,
}
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace", "query"}
LARGE = 1_000_000
# Features a reader of the document can derive; the manifest must list exactly these.
DERIVED = {
    "oas30", "oas31", "oas32", "base_path", "server_variables", "path_servers", "problem_json",
    "form_body", "multipart", "basic_auth", "bearer", "api_key_header", "api_key_query",
    "api_key_cookie", "oauth2", "openid", "mutual_tls", "optional_body", "no_responses",
    "webhooks", "callbacks", "links", "query_method", "additional_operations", "large",
}  # fmt: skip
FEATURES = DERIVED | {"examples", "no_examples"}
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_manifest(directory: Path) -> list[dict[str, Any]]:
    return yaml.safe_load((directory / "manifest.yaml").read_text())["specs"]


@cache
def load_bytes(data: bytes) -> Any:
    """Parse once per distinct content: the two large specs take seconds each."""
    return yaml.load(data, Loader=Loader)  # a safe loader, in C where PyYAML has it


def operations(path_item: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for method, operation in path_item.items():
        if method in METHODS:
            yield method, operation
    yield from (path_item.get("additionalOperations") or {}).items()


def resolved(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow local `$ref`s (all the corpus uses for bodies, responses and path items)."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def derived_features(doc: dict[str, Any], size: int) -> set[str]:
    """What the document shows of the manifest's vocabulary (see manifest.yaml's header)."""
    version = str(doc["openapi"])
    found = {"oas" + version[0] + version[2]}
    if size > LARGE:
        found.add("large")
    for server in doc.get("servers") or []:
        url = server["url"].split("://", 1)[-1]
        if "/" in url and url.split("/", 1)[1].strip("/"):
            found.add("base_path")
        if server.get("variables"):
            found.add("server_variables")
    schemes = (doc.get("components") or {}).get("securitySchemes") or {}
    for scheme in schemes.values():
        kind = scheme["type"]
        if kind == "http":
            http = scheme.get("scheme", "").lower()
            found.add({"basic": "basic_auth", "bearer": "bearer"}.get(http, "http_" + http))
        elif kind == "apiKey":
            found.add("api_key_" + scheme["in"])
        else:
            found.add({"oauth2": "oauth2", "openIdConnect": "openid"}.get(kind, "mutual_tls"))
    if doc.get("webhooks"):
        found.add("webhooks")
    items = [*(doc.get("paths") or {}).values(), *(doc.get("webhooks") or {}).values()]
    for item in items:
        path_item = resolved(doc, item)
        if not isinstance(path_item, dict):
            continue  # not a Path Item: the validator reports it
        if path_item.get("servers"):
            found.add("path_servers")
        if path_item.get("additionalOperations"):
            found.add("additional_operations")
        for method, operation in operations(path_item):
            found |= operation_features(doc, method, operation)
    return found


def operation_features(doc: dict[str, Any], method: str, operation: dict[str, Any]) -> set[str]:
    found = set()
    if method == "query":
        found.add("query_method")
    if operation.get("servers"):
        found.add("path_servers")
    if operation.get("callbacks"):
        found.add("callbacks")
    body = resolved(doc, operation.get("requestBody") or {})
    if body and not body.get("required"):
        found.add("optional_body")
    for media in body.get("content") or {}:
        if media == "application/x-www-form-urlencoded":
            found.add("form_body")
        if media.startswith("multipart/"):
            found.add("multipart")
    if not operation.get("responses"):
        found.add("no_responses")
    for response in (operation.get("responses") or {}).values():
        response = resolved(doc, response)
        if response.get("links"):
            found.add("links")
        if "application/problem+json" in (response.get("content") or {}):
            found.add("problem_json")
    return found


def entry_problems(directory: Path, entry: dict[str, Any]) -> list[str]:
    """Everything wrong with one manifest entry and its document; [] when it is all true."""
    name = entry.get("file", "<no file>")
    problems = []
    source = entry.get("source") or {}
    if not (source.get("url") or (source.get("repository") and source.get("path"))):
        problems.append(f"{name}: no source (repository and path, or url)")
    if not str(entry.get("licence") or "").strip():
        problems.append(f"{name}: no licence")
    unknown = set(entry.get("features") or []) - FEATURES
    if unknown:
        problems.append(f"{name}: features outside the vocabulary: {sorted(unknown)}")
    path = directory / name
    if not path.is_file():
        return [*problems, f"{name}: listed in the manifest but not in {directory.name}/"]
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        problems.append(f"{name}: sha256 differs from the manifest (the published bytes changed)")
    try:
        doc = load_bytes(data)
    except yaml.YAMLError as exc:
        return [*problems, f"{name}: does not parse: {exc}"]
    if str(doc.get("openapi")) != str(entry.get("openapi")):
        written, listed = doc.get("openapi"), entry.get("openapi")
        problems.append(f"{name}: openapi is {written!r}, manifest says {listed!r}")
    problems += validity_problems(name, doc, entry.get("invalid"))
    listed = set(entry.get("features") or []) & DERIVED
    shown = derived_features(doc, len(data))
    if listed != shown:
        problems.append(
            f"{name}: features {sorted(listed)} but the document shows {sorted(shown)} "
            f"(missing {sorted(shown - listed)}, not shown {sorted(listed - shown)})"
        )
    return problems


def validity_problems(name: str, doc: dict[str, Any], invalid: str | None) -> list[str]:
    validator = VALIDATORS.get(str(doc.get("openapi"))[:3])
    if validator is None:
        return [f"{name}: no validator for openapi {doc.get('openapi')!r}"]
    try:
        validate(doc, cls=validator)
    except Exception as exc:  # the validator's errors have no common base worth naming
        if invalid:
            return []
        return [f"{name}: rejected by {validator.__name__}: {str(exc)[:300]}"]
    if invalid:
        return [f"{name}: manifest says invalid ({invalid}) but {validator.__name__} accepts it"]
    return []


def listing_problems(directory: Path, manifest: list[dict[str, Any]]) -> list[str]:
    files = {p.name for p in directory.iterdir() if p.is_file()} - NOT_SPECS
    names = [entry.get("file") for entry in manifest]
    unlisted = sorted(files - set(names))
    repeated = sorted({n for n in names if names.count(n) > 1})
    problems = [f"{n}: in {directory.name}/ but not in the manifest" for n in unlisted]
    problems += [f"{n}: listed more than once" for n in repeated]
    return problems


def corpus_problems(directory: Path) -> list[str]:
    manifest = load_manifest(directory)
    problems = listing_problems(directory, manifest)
    for entry in manifest:
        problems += entry_problems(directory, entry)
    return problems


ENTRIES = load_manifest(SPECS)


def test_every_file_is_in_the_manifest_and_listed_once() -> None:
    assert listing_problems(SPECS, ENTRIES) == []


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"] for e in ENTRIES])
def test_entry_is_true_of_its_document(entry: dict[str, Any]) -> None:
    assert entry_problems(SPECS, entry) == []


def test_corpus_covers_what_the_tools_are_tested_on() -> None:
    """The coverage the mock, contract-test, proxy and diff issues ask of the corpus."""
    features = [set(entry["features"]) for entry in ENTRIES]
    wanted = {
        "oas30", "oas31", "oas32", "base_path", "server_variables", "problem_json", "form_body",
        "multipart", "basic_auth", "api_key_query", "api_key_cookie", "optional_body", "large",
        "webhooks", "callbacks", "links", "query_method",
    }  # fmt: skip
    assert wanted - set().union(*features) == set()
    assert len(ENTRIES) >= 14
    assert {"redocly-museum.yaml", "oai-3.0-uspto.yaml"} <= {e["file"] for e in ENTRIES}
    assert all((SPECS / e["file"]).stat().st_size < 6 * 1024 * 1024 for e in ENTRIES)


# Each way the manifest can stop being true, made on a copy; the check must name it.
def _drop_entry(manifest: list[dict[str, Any]], d: Path) -> str:
    del manifest[0]
    return "oai-3.0-petstore.yaml: in specs/ but not in the manifest"


def _entry_without_file(manifest: list[dict[str, Any]], d: Path) -> str:
    (d / "oai-3.0-petstore.yaml").unlink()
    return "oai-3.0-petstore.yaml: listed in the manifest but not in specs/"


def _no_licence(manifest: list[dict[str, Any]], d: Path) -> str:
    manifest[0]["licence"] = " "
    return "oai-3.0-petstore.yaml: no licence"


def _no_source(manifest: list[dict[str, Any]], d: Path) -> str:
    manifest[0]["source"] = {"repository": "OAI/learn.openapis.org"}
    return "oai-3.0-petstore.yaml: no source"


def _wrong_version(manifest: list[dict[str, Any]], d: Path) -> str:
    manifest[0]["openapi"] = "3.1.0"
    return "oai-3.0-petstore.yaml: openapi is '3.0.0', manifest says '3.1.0'"


def _edited_bytes(manifest: list[dict[str, Any]], d: Path) -> str:
    path = d / "oai-3.0-petstore.yaml"
    path.write_bytes(path.read_bytes() + b"# local edit\n")
    return "oai-3.0-petstore.yaml: sha256 differs"


def _claimed_invalid(manifest: list[dict[str, Any]], d: Path) -> str:
    manifest[0]["invalid"] = "thought broken"
    return "oai-3.0-petstore.yaml: manifest says invalid (thought broken) but"


def _invalid_unmarked(manifest: list[dict[str, Any]], d: Path) -> str:
    path = d / "oai-3.0-petstore.yaml"
    path.write_bytes(path.read_bytes().replace(b"\npaths:", b"\npaths:\n  nonsense: 1"))
    manifest[0]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return "oai-3.0-petstore.yaml: rejected by OpenAPIV30SpecValidator"


def _missing_feature(manifest: list[dict[str, Any]], d: Path) -> str:
    manifest[0]["features"].remove("base_path")
    return "oai-3.0-petstore.yaml: features ['oas30'] but the document shows ['base_path', 'oas30']"


def _feature_not_shown(manifest: list[dict[str, Any]], d: Path) -> str:
    manifest[0]["features"].append("basic_auth")
    return "not shown ['basic_auth']"


def _unknown_feature(manifest: list[dict[str, Any]], d: Path) -> str:
    manifest[0]["features"].append("graphql")
    return "oai-3.0-petstore.yaml: features outside the vocabulary: ['graphql']"


def _unparsable(manifest: list[dict[str, Any]], d: Path) -> str:
    (d / "oai-3.0-petstore.yaml").write_bytes(b"openapi: [3.0.0\n")
    manifest[0]["sha256"] = hashlib.sha256(b"openapi: [3.0.0\n").hexdigest()
    return "oai-3.0-petstore.yaml: does not parse"


TAMPERINGS: list[Callable[[list[dict[str, Any]], Path], str]] = [
    _drop_entry, _entry_without_file, _no_licence, _no_source, _wrong_version, _edited_bytes,
    _claimed_invalid, _invalid_unmarked, _missing_feature, _feature_not_shown, _unknown_feature,
    _unparsable,
]  # fmt: skip


@pytest.mark.parametrize("tamper", TAMPERINGS, ids=[t.__name__.strip("_") for t in TAMPERINGS])
def test_check_fails_on_a_tampered_copy(
    tmp_path: Path, tamper: Callable[[list[dict[str, Any]], Path], str]
) -> None:
    copy_dir = tmp_path / "specs"
    small = [e for e in ENTRIES if (SPECS / e["file"]).stat().st_size < LARGE]
    copy_dir.mkdir()
    for entry in small:
        shutil.copyfile(SPECS / entry["file"], copy_dir / entry["file"])
    manifest = copy.deepcopy(small)
    assert manifest[0]["file"] == "oai-3.0-petstore.yaml"
    expected = tamper(manifest, copy_dir)
    (copy_dir / "manifest.yaml").write_text(yaml.safe_dump({"specs": manifest}, sort_keys=False))
    problems = corpus_problems(copy_dir)
    assert any(expected in problem for problem in problems), problems
    assert len(problems) == 1, problems  # only what was tampered with, nothing else


def test_untampered_copy_passes(tmp_path: Path) -> None:
    """The tampered copies fail for their tampering, not for being copies."""
    copy_dir = tmp_path / "specs"
    small = [e for e in ENTRIES if (SPECS / e["file"]).stat().st_size < LARGE]
    copy_dir.mkdir()
    for entry in small:
        shutil.copyfile(SPECS / entry["file"], copy_dir / entry["file"])
    (copy_dir / "manifest.yaml").write_text(yaml.safe_dump({"specs": small}, sort_keys=False))
    assert corpus_problems(copy_dir) == []


def test_document_marked_invalid_passes_while_it_is_invalid(tmp_path: Path) -> None:
    """The `invalid` field's other half: a rejected document with the reason noted is accepted."""
    copy_dir = tmp_path / "specs"
    copy_dir.mkdir()
    entry = copy.deepcopy(ENTRIES[0])
    broken = (SPECS / entry["file"]).read_bytes().replace(b"\npaths:", b"\npaths:\n  nonsense: 1")
    (copy_dir / entry["file"]).write_bytes(broken)
    entry |= {"sha256": hashlib.sha256(broken).hexdigest(), "invalid": "a path without '/'"}
    (copy_dir / "manifest.yaml").write_text(yaml.safe_dump({"specs": [entry]}, sort_keys=False))
    assert corpus_problems(copy_dir) == []
