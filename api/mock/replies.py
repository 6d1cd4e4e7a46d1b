"""Which documented response a mock request gets, and its body and headers."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from api.mock.generate import Generator
from api.mock.hooks import Hook
from api.mock.prefer import PREFER_HEADER, Preferences
from api.openapi.validation import RequestValidationProblem, schema_issues
from api.openapi.walk import media_examples, operation_responses


@dataclass
class MockReply:
    status: int
    media_type: str | None
    body: Any
    headers: dict[str, str]
    source: str  # which example, for the log line and Preference-Applied
    applied: list[str] = field(default_factory=list)

    @property
    def content_type(self) -> str | None:
        """The media type sent: `*/*` and `application/*` are ranges, no Content-Type, so the
        body goes as JSON, a type inside them (other ranges, `image/*`, are sent as written)."""
        if self.media_type in ("*/*", "application/*"):
            return "application/json"
        return self.media_type

    def encoded(self) -> bytes:
        if self.media_type is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str) and "json" not in (self.content_type or ""):
            return self.body.encode()
        # JSON for a JSON type, and for data that is no text (an object for text/html): never
        # Python's repr of it.
        return json.dumps(self.body).encode()


class PreferenceProblem(RequestValidationProblem):
    """A preference the spec cannot satisfy; the message says what it can.

    `where` is the (in, name) the preference came from: the `Prefer` header or a `__…` query
    parameter.
    """

    def __init__(self, message: str, where: tuple[str, str] = PREFER_HEADER) -> None:
        super().__init__(message, [{"in": where[0], "name": where[1], "message": message}])


def documented_status(
    responses: Mapping[str, Any], wanted: int | None, where: tuple[str, str] = PREFER_HEADER
) -> tuple[int, str]:
    """(status to send, key of `responses` that documents it)."""
    if wanted is None:
        for key in responses:
            if re.fullmatch(r"2(\d\d|XX)", str(key)):
                return (200 if key == "2XX" else int(key)), str(key)
        first = str(next(iter(responses)))
        return (int(first) if first.isdigit() else 200), first
    for key in (str(wanted), f"{wanted // 100}XX", "default"):
        if key in responses:
            return wanted, key
    raise PreferenceProblem(
        f"No {wanted} response is documented for this operation; documented: "
        + ", ".join(str(k) for k in responses)
        + ".",
        where,
    )


def pick_media_type(content: Mapping[str, Any]) -> str | None:
    if not content:
        return None
    for media_type in content:
        if media_type == "application/json" or media_type.endswith("+json"):
            return media_type
    return str(next(iter(content)))


NO_RESPONSES: dict[str, Any] = {"204": {"description": "The operation documents no response."}}


def operation_key(operation_id: str | None, method: str, path: str) -> str:
    return operation_id or f"{method.upper()} {path}"


class InvalidExample(Exception):
    """The spec's example for the chosen response breaks its own schema: a spec bug, never sent."""


class MockOperation:
    """One operation of the spec and how to answer it."""

    def __init__(
        self,
        path: str,
        method: str,
        definition: dict[str, Any],
        generator: Generator,
        hook: Hook | None = None,
    ) -> None:
        self.hook = hook  # makes generated bodies agree with themselves (api/mock/hooks.py)
        self.path = path
        self.method = method
        self.definition = definition
        self.generator = generator
        self.name = operation_key(definition.get("operationId"), method, path)
        self.invalid_examples = dict(self._check_examples())

    def _check_examples(self) -> Iterator[tuple[tuple[str, str, str], str]]:
        """((response key, media type, source), first problem) per example its schema refuses."""
        for response in operation_responses(self.path, self.method, self.definition):
            if response.schema is None or response.media_type is None:
                continue
            validator = self.generator.schemas.get(response.schema)
            for example in response.examples:
                issues = schema_issues(validator, example.value, location="body")
                if issues:
                    problem = f"{issues[0]['pointer']}: {issues[0]['message']}"
                    yield (response.status, response.media_type, example.source), problem

    def example_problem(self, key: str, media_type: str, source: str) -> str | None:
        """One line on why that example breaks its schema, or None if it is valid."""
        problem = self.invalid_examples.get((key, media_type, source))
        if problem is None:
            return None
        return (
            f"The spec's {source} of {self.name} {key} ({media_type}) does not match its "
            f"schema: {problem}"
        )

    def reply(self, prefs: Preferences) -> MockReply:
        if prefs.problems:
            message = "; ".join(p["message"] for p in prefs.problems)
            raise RequestValidationProblem(f"Invalid preference: {message}.", prefs.problems)
        # No documented response (3.1 allows it): nothing to say, so no content.
        responses = self.definition.get("responses") or NO_RESPONSES
        status, key = documented_status(responses, prefs.code, prefs.source("code"))
        response = responses[key]
        applied = [f"code={status}"] if prefs.code is not None else []
        content = response.get("content") or {}
        media_type = pick_media_type(content)
        body: Any = None
        source = "no body"
        if media_type is not None:
            body, source, more = self._body(content[media_type], prefs, str(key), media_type)
            problem = self.example_problem(str(key), media_type, source)
            if problem is not None:
                raise InvalidExample(problem + ". The mock never sends it: fix the spec.")
            applied += more
        headers = self._headers(response.get("headers") or {}, prefs.seed or 0)
        return MockReply(status, media_type, body, headers, source, applied)

    def _body(
        self, media: Mapping[str, Any], prefs: Preferences, key: str = "", media_type: str = ""
    ) -> tuple[Any, str, list[str]]:
        """The body, where it came from, and the preferences applied.

        Unasked, the first example that is valid against its schema (one that is not was
        logged at start and is skipped: the mock never sends an invalid body), else data
        generated from the schema; an example asked for by name is that one, valid or not
        (`reply` answers a 500 naming it if not).
        """
        examples = media_examples(media)
        named = {e.name: e for e in examples if e.name is not None}
        schema = media.get("schema")
        if prefs.example is not None:
            if prefs.example not in named:
                raise PreferenceProblem(
                    f"No example named {prefs.example!r} for this response; named examples: "
                    + (", ".join(named) or "none")
                    + ".",
                    prefs.source("example"),
                )
            chosen = named[prefs.example]
            return chosen.value, chosen.source, [f"example={prefs.example}"]
        if not prefs.dynamic and examples:
            usable = [
                e for e in examples if (key, media_type, e.source) not in self.invalid_examples
            ]
            if usable:
                return usable[0].value, usable[0].source, []
            if not isinstance(schema, dict):
                return examples[0].value, examples[0].source, []
        if not isinstance(schema, dict):
            return None, "no schema", []
        seed = prefs.seed
        if seed is None:
            # Asked-for dynamic data varies per call; a stand-in for a missing example is stable.
            seed = random.randrange(1_000_000) if prefs.dynamic else 0
        applied = ["dynamic=true", f"seed={seed}"] if prefs.dynamic else []
        documented = [e for e in examples if not e.from_schema]
        hint = documented[0].value if documented else None
        body = self.generator.generate(schema, seed, hint)
        if self.hook is not None:
            body = self.generator.checked(schema, self.hook(body, random.Random(seed)), self.name)
        return body, f"generated (seed {seed})", applied

    def _headers(self, declared: Mapping[str, Any], seed: int) -> dict[str, str]:
        """Headers from the spec's examples; a required one without any is generated."""
        headers: dict[str, str] = {}
        for name, header in declared.items():
            if name.lower() == "content-type":
                continue
            schema = header.get("schema") if isinstance(header.get("schema"), dict) else {}
            candidates = [header.get("example"), schema.get("example")]
            candidates += [e.get("value") for e in (header.get("examples") or {}).values()]
            candidates += list(schema.get("examples") or [])
            value = next((c for c in candidates if c is not None), None)
            if value is None and header.get("required") and schema:
                value = self.generator.generate(schema, seed)
            if value is not None:
                headers[name] = _header_text(value)
        return headers


def _header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)
