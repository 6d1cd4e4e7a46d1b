"""openapi-spec-validator-rs (whose "valid" the spec class takes) agrees with
openapi-spec-validator, the reference, on the corpus and on broken documents; a document it
refuses gets the reference's verdict and words (api/openapi/spec.py, `check_document`)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import openapi_spec_validator
import openapi_spec_validator_rs
import pytest
from connexion.exceptions import InvalidSpecification

from api.openapi.spec import OpenAPI31Specification, found_valid_fast, parse_document
from tests.support import ROOT

SPECS = ROOT / "tests" / "data" / "specs"
CORPUS = sorted(
    p for p in SPECS.iterdir() if p.suffix in (".yaml", ".yml") and p.stem != "manifest"
)
SMALL = ["oai-3.0-petstore-expanded.yaml", "oai-3.1-tictactoe.yaml", "oai-3.2-query-example.yaml",
         "redocly-museum.yaml", "readme-3.0-server-variables.yaml"]  # fmt: skip
METHODS = ("get", "put", "post", "delete", "patch", "query")


def verdict(validate: Callable[[Any], None], document: dict[str, Any]) -> bool:
    try:
        validate(document)
    except Exception:
        return False
    return True


def load(name: str) -> dict[str, Any]:
    return parse_document((SPECS / name).read_text(encoding="utf-8"))


def first_operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        item[method]
        for item in document["paths"].values()
        for method in METHODS
        if isinstance(item.get(method), dict)
    ][:2]


def broken(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Copies of `document`, each wrong in one way openapi-spec-validator refuses."""

    def edit(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        copied = copy.deepcopy(document)
        change(copied)
        return copied

    def op(d: dict[str, Any], n: int = 0) -> dict[str, Any]:
        return first_operations(d)[n]

    yield "no info.version", edit(lambda d: d["info"].pop("version"))
    yield "title not a string", edit(lambda d: d["info"].update(title=5))
    yield "a path without /", edit(lambda d: d["paths"].update(nopath={}))
    bad_in = [{"name": "x", "in": "nowhere", "schema": {"type": "string"}}]
    yield "parameter in nowhere", edit(lambda d: op(d).update(parameters=bad_in))
    bad_default = [{"name": "q", "in": "query", "schema": {"type": "integer", "default": "a"}}]
    yield "default not of its schema", edit(lambda d: op(d).update(parameters=bad_default))
    ok = {"description": "ok", "content": {"application/json": {"schema": {"type": "strin"}}}}
    yield "unknown type", edit(lambda d: op(d).update(responses={"200": ok}))
    dangling = {"$ref": "#/components/schemas/Nope"}
    ok_ref = {"description": "ok", "content": {"application/json": {"schema": dangling}}}
    yield "dangling $ref", edit(lambda d: op(d).update(responses={"200": ok_ref}))
    undeclared = {"get": {"responses": {"200": {"description": "x"}}}}
    yield "undeclared path parameter", edit(lambda d: d["paths"].update({"/zz/{id}": undeclared}))
    if len(first_operations(document)) > 1:

        def same_ids(d: dict[str, Any]) -> None:
            op(d, 0)["operationId"] = op(d, 1)["operationId"] = "twice"

        yield "operationId twice", edit(same_ids)


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_both_accept_every_corpus_document(path):
    document = parse_document(path.read_text(encoding="utf-8"))
    assert verdict(openapi_spec_validator_rs.validate, document)
    assert verdict(openapi_spec_validator.validate, document)
    assert found_valid_fast(document)


@pytest.mark.parametrize("name", SMALL)
def test_both_refuse_each_broken_copy(name):
    cases = list(broken(load(name)))
    assert len(cases) >= 8
    for what, document in cases:
        assert not verdict(openapi_spec_validator.validate, document), what
        assert not verdict(openapi_spec_validator_rs.validate, document), what
        assert not found_valid_fast(document), what


def test_a_refused_document_gets_the_reference_s_words():
    document = load("oai-3.1-tictactoe.yaml")
    document["info"].pop("version")
    with pytest.raises(InvalidSpecification) as caught:
        OpenAPI31Specification.check_document(document)
    # openapi-spec-validator's wording (the Rust port says 'version', in single quotes).
    assert str(caught.value) == (
        'Invalid OpenAPI 3.1.0 document at #/info: "version" is a required property'
    )
