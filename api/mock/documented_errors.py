"""An error in the served spec's own shape: what the operation documents for that status.

A frontend coded against `application/problem+json` with the spec's schema breaks on
craftkit's `{"error": …}`; so where the operation documents the status the mock (or the proxy)
must answer (the exact status, else its `4XX` range, else `default`) with content, the answer
is that response: its media type, its example (or data generated from its schema), with the
problem's text put in the field a problem schema has for it (`detail`, `message`, `title`…)
and the status in a `status` field, as long as the body stays valid against the schema. Only
where nothing is documented do callers fall back to the envelope.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from api import errors
from api.mock.generate import Generator
from api.openapi.validation import SchemaCache
from api.openapi.walk import media_examples

logger = logging.getLogger("craftkit.mock")

# Where a problem's text goes, best first: RFC 9457's `detail`, then what others call it.
TEXT_FIELDS = (
    "detail",
    "message",
    "error_description",
    "errorMessage",
    "error_message",
    "description",
    "msg",
    "title",
    "error",
)
STATUS_FIELDS = ("status", "code", "statusCode", "status_code")
ISSUE_FIELDS = ("issues", "errors", "invalid-params", "invalid_params")

Documented = tuple[int, str, bytes, dict[str, str]]


class HasSchemas(Protocol):
    @property
    def schemas(self) -> SchemaCache: ...


def response_for(responses: Mapping[Any, Any], status: int) -> Any:
    """The response documenting `status`: exact, then `4XX` (any case), then `default`."""
    by_key = {str(key).upper(): value for key, value in responses.items()}
    for key in (str(status), f"{status // 100}XX", "DEFAULT"):
        if key in by_key:
            return by_key[key]
    return None


def is_json(media_type: str) -> bool:
    base = media_type.split(";", 1)[0].strip().lower()
    return base == "application/json" or base.endswith("+json")


def media_preference(media_type: str) -> int:
    """Problem documents first, other JSON next, text after, anything else last."""
    base = media_type.split(";", 1)[0].strip().lower()
    if base == "application/problem+json":
        return 0
    if is_json(base):
        return 1
    if base.startswith("text/") or base == "*/*":
        return 2
    return 3


def documented_error(
    spec: HasSchemas,
    operation: Mapping[str, Any],
    status: int,
    message: str,
    issues: list[dict[str, Any]] | None = None,
) -> Documented | None:
    """(status, media type, body, headers) the spec documents for `status` on `operation`
    (a resolved operation object), or None where it documents no content for it.

    The body is valid against the documented schema: the first valid example, with `message`
    (and the status, and `issues`) filled in where the schema has room for them, else data
    generated from the schema, filled the same way. A documented `*/*` is answered as JSON.
    """
    response = response_for(operation.get("responses") or {}, status)
    if not isinstance(response, Mapping):
        return None
    content = response.get("content") or {}
    if not isinstance(content, Mapping) or not content:
        return None
    generator = Generator(spec.schemas)
    for media_type in sorted(content, key=media_preference):
        media = content[media_type]
        if not isinstance(media, Mapping):
            continue
        body = _body(generator, media_type, media, status, message, issues)
        if body is None:
            continue
        sent_type = "application/json" if media_type.strip() == "*/*" else media_type
        headers = documented_headers(generator, response.get("headers") or {})
        return status, sent_type, body, headers
    return None


def _body(
    generator: Generator,
    media_type: str,
    media: Mapping[str, Any],
    status: int,
    message: str,
    issues: list[dict[str, Any]] | None,
) -> bytes | None:
    schema = media.get("schema")
    json_like = is_json(media_type) or media_type.strip() == "*/*"
    valid = _checker(generator.schemas, schema)
    if not json_like and valid(message):
        return message.encode()  # text/plain, text/html: the text is the problem's detail
    for candidate in _candidates(generator, media, schema, status, message, issues):
        if not valid(candidate):
            continue
        filled = fill(candidate, schema, message, status, issues, valid)
        if json_like:
            return json.dumps(filled).encode()
        if isinstance(filled, str):
            return filled.encode()
    return None


def _candidates(
    generator: Generator,
    media: Mapping[str, Any],
    schema: Any,
    status: int,
    message: str,
    issues: list[dict[str, Any]] | None,
) -> Iterator[Any]:
    for example in media_examples(media):
        yield example.value
    if isinstance(schema, Mapping):
        assembled = from_property_examples(schema)
        if assembled:
            yield assembled
        try:
            yield generator.generate(schema, 0)
        except Exception as exc:  # a schema jsf cannot draw from: no body from it
            logger.debug("cannot generate an error body: %s", exc)
    else:  # no schema: any body is valid; ours says what went wrong
        yield json.loads(errors.envelope(status, message, issues=issues).body)


def from_property_examples(schema: Mapping[str, Any]) -> dict[str, Any]:
    """An object made of its properties' own examples (Museum's Error: `type: object`,
    `title: Validation failed`), where the schema has no example of its own."""
    found: dict[str, Any] = {}
    for name, prop in properties(schema).items():
        if not isinstance(prop, Mapping):
            continue
        if "example" in prop:
            found[name] = prop["example"]
        elif prop.get("examples"):
            found[name] = prop["examples"][0]
        elif "default" in prop:
            found[name] = prop["default"]
        elif prop.get("enum"):
            found[name] = prop["enum"][0]
    return found


def _checker(schemas: SchemaCache, schema: Any) -> Any:
    if not isinstance(schema, Mapping):
        return lambda _value: True
    validator = schemas.get(schema)
    return lambda value: next(iter(validator.iter_errors(value)), None) is None


def properties(schema: Any) -> dict[str, Any]:
    """The properties a (resolved) object schema declares, `allOf` parts included."""
    if not isinstance(schema, Mapping):
        return {}
    found = dict(schema.get("properties") or {})
    for part in schema.get("allOf") or []:
        found.update(properties(part))
    return found


def fill(
    body: Any,
    schema: Any,
    message: str,
    status: int,
    issues: list[dict[str, Any]] | None,
    valid: Any,
) -> Any:
    """`body` with the problem's text, status and issues where they fit and it stays valid.

    Looks at the top level, then one object deep (`{"error": {"message": …}}`), at fields the
    body has or its schema declares; each change is kept only if the whole body stays valid.
    """
    if not isinstance(body, dict):
        return body
    body = json.loads(json.dumps(body, default=str))  # a copy: examples are the spec's own
    declared = properties(schema)
    targets: list[tuple[dict[str, Any], dict[str, Any]]] = [(body, declared)]
    for name, value in body.items():
        if isinstance(value, dict):
            targets.append((value, properties(declared.get(name))))
    wanted: list[tuple[tuple[str, ...], Any, type]] = [
        (TEXT_FIELDS, message, str),
        (STATUS_FIELDS, status, int),
    ]
    if issues:
        wanted.append((ISSUE_FIELDS, issues, list))
    for fields, value, kind in wanted:
        for target, target_props in targets:
            if _put(body, target, target_props, fields, value, kind, valid):
                break
    return body


def _put(
    body: Any,
    target: dict[str, Any],
    declared: Mapping[str, Any],
    fields: tuple[str, ...],
    value: Any,
    kind: type,
    valid: Any,
) -> bool:
    for name in fields:
        present = name in target
        if present and (not isinstance(target[name], kind) or isinstance(target[name], bool)):
            continue
        if not present and name not in declared:
            continue
        before = target.get(name)
        target[name] = value
        if valid(body):
            return True
        if present:
            target[name] = before
        else:
            del target[name]
    return False


def documented_headers(generator: Generator, declared: Mapping[str, Any]) -> dict[str, str]:
    """A response's headers from the spec's examples; a required one without any generated."""
    headers: dict[str, str] = {}
    for name, header in declared.items():
        if name.lower() == "content-type" or not isinstance(header, Mapping):
            continue
        found = header.get("schema")
        schema: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        candidates = [header.get("example"), schema.get("example")]
        candidates += [
            e.get("value") for e in (header.get("examples") or {}).values() if isinstance(e, dict)
        ]
        candidates += list(schema.get("examples") or [])
        value = next((c for c in candidates if c is not None), None)
        if value is None and header.get("required") and schema:
            value = generator.generate(schema, 0)
        if value is not None:
            headers[name] = header_text(value)
    return headers


def header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)
