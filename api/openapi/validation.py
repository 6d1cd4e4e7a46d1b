"""Request and response validation with OpenAPI 3.1 semantics, every problem reported at once.

Passed to Connexion as its `validator_map` (built per app by `validator_map(cache)`):
parameter, JSON request-body and JSON response-body validators checking JSON Schema 2020-12
with jsonschema-rs (native code: about 10 µs for the engagement answer, where the pure-Python
`OAS31Validator` took a millisecond), formats asserted. Connexion's own validators stop at the
first error and use Draft 4. Documents still written in OpenAPI 3.0 (the mock serves them) keep
openapi-schema-validator's `OAS30Validator`, which knows 3.0's `nullable`.

Where jsonschema-rs and the OpenAPI 3.1 dialect differ, `compile_schema` bridges the gap (each
point is tested in tests/test_validation.py):

- OAS's own keywords (`discriminator`, `example`, `xml`, `externalDocs`) are annotations in
  3.1; jsonschema-rs ignores unknown keywords, which is the same thing.
- OAS's formats `int32` and `int64` bound an integer's range; jsonschema-rs checks formats on
  strings only, so the compiled copy of the schema states those bounds as `minimum`/`maximum`.
  `float`, `double` and `password` assert nothing beyond the type in either.
- jsonschema-rs asserts every 2020-12 format it knows (`uri`, `hostname`, `duration`, …),
  where Python's jsonschema checked some only with optional packages installed: stricter, as
  the dialect says when formats are asserted. Unknown formats are ignored, as the spec allows.
- Messages are jsonschema-rs's own, quoting values as JSON (`"abc" is not of type "integer"`).

Compiled validators live in a `SchemaCache` owned by the spec (`OpenAPI31Specification.schemas`),
filled once at start-up (`warm`); Connexion instantiates validator classes per request, and
those look schemas up in their app's cache instead of compiling them again. The body
validators are built on api/openapi/connexion_shim.py's `RequestBodyValidator` and
`ResponseBodyValidator`, which hold the Connexion internals they take.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import jsonschema_rs
import orjson
from connexion.exceptions import BadRequestProblem, NonConformingResponseBody
from connexion.lifecycle import ConnexionRequest
from connexion.validators import TextResponseBodyValidator
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from starlette.types import Scope

from api.openapi.connexion_shim import (
    FormBodyValidator,
    MultipartBodyValidator,
    RequestBodyValidator,
    ResponseBodyValidator,
    by_media_type,
)

logger = logging.getLogger("craftkit.validation")

Issue = dict[str, Any]


class _Spec(Protocol):
    is_31: bool

    def operations(self) -> Iterator[tuple[str, str, dict[str, Any]]]: ...

    def get_path_params(self, path: str) -> list[dict[str, Any]]: ...


# --- compiled schemas ---------------------------------------------------------------------


class SchemaCache:
    """Validators compiled once per schema object, keyed by identity; one per spec.

    The schema dict is kept alongside its validator, so an id can never be reused by another
    object while the entry lives.
    """

    def __init__(self, *, oas30: bool = False) -> None:
        self.oas30 = oas30
        self._entries: dict[int, tuple[Mapping[str, Any], Validator]] = {}
        self._lock = threading.Lock()
        self.compiled_on_demand = 0

    def get(self, schema: Mapping[str, Any]) -> Validator:
        entry = self._entries.get(id(schema))
        if entry is not None and entry[0] is schema:
            return entry[1]
        with self._lock:
            self.compiled_on_demand += 1
            return self._compile(schema)

    def _compile(self, schema: Mapping[str, Any]) -> Validator:
        validator = compile_schema(schema, oas30=self.oas30)
        self._entries[id(schema)] = (schema, validator)
        return validator

    def warm(self, spec: _Spec) -> int:
        """Compile every parameter, request-body and response schema of `spec`; return how many."""
        schemas: list[Mapping[str, Any]] = []
        for path, _method, operation in spec.operations():
            for param in [*spec.get_path_params(path), *operation.get("parameters", [])]:
                if isinstance(param.get("schema"), dict):
                    schemas.append(param["schema"])
            bodies = [
                operation.get("requestBody", {}),
                *list(operation.get("responses", {}).values()),
            ]
            for body in bodies:
                for media in body.get("content", {}).values():
                    if isinstance(media.get("schema"), dict):
                        schemas.append(media["schema"])
        with self._lock:
            for schema in schemas:
                self._compile(schema)
        return len(schemas)


@dataclass(frozen=True)
class SchemaError:
    """One problem: where in the instance (`path`) and what (`message`)."""

    path: tuple[str | int, ...]
    message: str


class Validator(Protocol):
    def iter_errors(self, instance: Any) -> Iterator[SchemaError]: ...


# OAS 3.1's integer formats, as the bounds they imply (formats.oas: int32, int64).
INTEGER_FORMATS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


class Validator31:
    """JSON Schema 2020-12 with formats asserted, compiled once by jsonschema-rs."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        # A JSON copy: YAML may have given dates or integer keys (in examples, say), which
        # jsonschema-rs cannot take; annotations are all they can be, so text will do.
        as_json = json.loads(json.dumps(schema, default=str))
        self._compiled = jsonschema_rs.Draft202012Validator(
            _with_integer_bounds(as_json), validate_formats=True
        )
        self._monotone = _monotone(as_json)

    def iter_errors(self, instance: Any) -> Iterator[SchemaError]:
        try:
            if self._compiled.is_valid(instance):  # the common case, without building errors
                return
            errors = list(self._compiled.iter_errors(instance))
        except ValueError as exc:  # not a JSON value (bytes, a set, an int-keyed map)
            yield SchemaError((), f"not a JSON value: {exc}")
            return
        for error in errors:
            yield SchemaError(tuple(error.instance_path), _message(error))

    def passes_as_written(self, value: Any) -> bool:
        """Whether orjson's writing of `value` passes, known without parsing it back.

        jsonschema-rs reads a value as orjson writes it (tuples as arrays, enums by their
        values) except NaN and the infinities, which orjson writes as null and jsonschema-rs
        reads as a number of no JSON type: such a value fails every `type` and `const` that
        null may pass, and passes whatever else null passes. So where the schema only combines
        keywords monotonically (no `not`, `oneOf`, `if`, `contains`, `unevaluated*`, `$ref`,
        `uniqueItems`), a value that passes means its bytes pass. A value jsonschema-rs cannot
        take (a datetime, which orjson writes as text) raises where a keyword reads it, except
        a length without `type` (`LENGTHS`), so such schemas are not trusted either. A value
        that fails, or raises, tells nothing: False, and the caller checks the bytes.
        tests/test_validation.py pins each point.
        """
        if not self._monotone:
            return False
        try:
            return bool(self._compiled.is_valid(value))
        except ValueError:
            return False


# Keywords under which a value passing does not mean null passes in its place (see
# `Validator31.passes_as_written`); a property of one of these names is counted as well.
NOT_MONOTONE = frozenset(
    {
        "not",
        "oneOf",
        "if",
        "then",
        "else",
        "contains",
        "minContains",
        "maxContains",
        "unevaluatedProperties",
        "unevaluatedItems",
        "uniqueItems",  # [NaN, None] is two items, [null, null] one twice
        "$ref",
        "$dynamicRef",
        "$recursiveRef",
    }
)


# jsonschema-rs reads a value it cannot take (a datetime, a UUID: orjson writes both as
# text) only when a keyword needs it: these two skip it as no string where `type` is absent.
LENGTHS = frozenset({"minLength", "maxLength"})


def _monotone(node: Any) -> bool:
    if isinstance(node, list):
        return all(_monotone(item) for item in node)
    if isinstance(node, dict):
        if not NOT_MONOTONE.isdisjoint(node):
            return False
        if "type" not in node and not LENGTHS.isdisjoint(node):
            return False
        return all(_monotone(v) for v in node.values())
    return True


class Validator30:
    """OpenAPI 3.0's dialect (`nullable`, Draft 4-like), from openapi-schema-validator."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self._compiled = OAS30Validator(schema, format_checker=oas30_format_checker)

    def iter_errors(self, instance: Any) -> Iterator[SchemaError]:
        for error in self._compiled.iter_errors(instance):
            message = error.message
            if error.validator == "format":
                message = f"{json.dumps(error.instance)} is not a valid {error.validator_value}"
            yield SchemaError(tuple(error.absolute_path), message)


def compile_schema(schema: Mapping[str, Any], *, oas30: bool = False) -> Validator:
    """A validator for `schema`: OpenAPI 3.1 (JSON Schema 2020-12) or 3.0, formats asserted."""
    return Validator30(schema) if oas30 else Validator31(schema)


def _with_integer_bounds(node: Any) -> Any:
    """`node` with `format: int32`/`int64` also stated as bounds jsonschema-rs checks."""
    if isinstance(node, list):
        return [_with_integer_bounds(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _with_integer_bounds(value) for key, value in node.items()}
    declared = out.get("format")
    bounds = INTEGER_FORMATS.get(declared) if isinstance(declared, str) else None
    if bounds is not None:
        low, high = bounds
        out["allOf"] = [*out.get("allOf", []), {"minimum": low, "maximum": high}]
    return out


def _message(error: jsonschema_rs.ValidationError) -> str:
    kind = error.kind
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.Format):
        return f"{json.dumps(error.instance)} is not a valid {kind.format}"
    return str(error.message)


class _Cached:
    """The validator classes' access to their app's cache; unbound classes compile directly."""

    cache: ClassVar[SchemaCache | None] = None

    @classmethod
    def compiled(cls, schema: Mapping[str, Any]) -> Validator:
        return cls.cache.get(schema) if cls.cache is not None else compile_schema(schema)


def schema_issues(
    validator: Validator, instance: Any, *, location: str, name: str | None = None
) -> list[Issue]:
    """Every validation error as an issue: where (location, name, JSON pointer) and what."""
    issues = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.path))):
        issue: Issue = {"in": location}
        if name is not None:
            issue["name"] = name
        pointer = "".join(f"/{part}" for part in error.path)
        if pointer or location == "body":
            issue["pointer"] = pointer or "/"
        issue["message"] = error.message
        issues.append(issue)
    return issues


class RequestValidationProblem(BadRequestProblem):
    """400 carrying every issue found in the request, for the error envelope's `issues`."""

    def __init__(self, message: str, issues: list[Issue]) -> None:
        super().__init__(detail=message)
        self.issues = issues


# --- parameters -----------------------------------------------------------------------------


def _types(schema: Mapping[str, Any]) -> list[str]:
    declared = schema.get("type")
    if isinstance(declared, list):
        return [str(t) for t in declared]
    return [str(declared)] if declared else []


def coerce_scalar(raw: str, schema: Mapping[str, Any]) -> Any:
    """Turn a raw path/query/header string into the JSON value the schema asks for.

    The first type of the schema's `type` (a list in 3.1) that the string parses as wins;
    a string that parses as none of them is kept as is, and the schema check reports it.
    """
    types = _types(schema)
    for kind in types:
        if kind == "integer":
            try:
                return int(raw)
            except ValueError:
                continue
        if kind == "number":
            try:
                return float(raw) if any(c in raw for c in ".eE") else int(raw)
            except ValueError:
                continue
        if kind == "boolean" and raw in ("true", "false"):
            return raw == "true"
        if kind == "null" and raw in ("", "null"):
            return None
        if kind == "string":
            return raw
    return raw


class ParameterValidator(_Cached):
    """Validates path, query, header and cookie parameters; collects every problem at once."""

    def __init__(
        self,
        parameters: list[dict[str, Any]],
        uri_parser: Any,
        strict_validation: bool = False,
        security_query_params: list[str] | None = None,
    ) -> None:
        self.parameters = parameters
        self.strict_validation = strict_validation
        self.security_query_params = set(security_query_params or [])

    def validate(self, scope: Scope) -> None:
        request = _LazyRequest(scope)
        issues: list[Issue] = []
        if self.strict_validation:
            allowed = {p["name"] for p in self.parameters if p["in"] == "query"}
            allowed |= self.security_query_params
            for extra in sorted(set(request.get().query_params.keys()) - allowed):
                issues.append({"in": "query", "name": extra, "message": "unknown query parameter"})
        for param in self.parameters:
            raw = self._raw_value(param, request, scope)
            if raw is None:
                if param.get("required"):
                    issues.append(
                        {
                            "in": param["in"],
                            "name": param["name"],
                            "message": f"missing required {param['in']} parameter",
                        }
                    )
                continue
            schema = param.get("schema")
            if not isinstance(schema, dict):
                continue
            value = self._coerce(raw, schema)
            issues += schema_issues(
                self.compiled(schema), value, location=param["in"], name=param["name"]
            )
        if issues:
            raise RequestValidationProblem(_summary(issues), issues)

    @staticmethod
    def _raw_value(param: dict[str, Any], request: _LazyRequest, scope: Scope) -> Any:
        where, name = param["in"], param["name"]
        if where == "path":  # Connexion routes `{my-param}` as `{my_param}`
            path_params = scope.get("path_params", {})
            return path_params.get(name, path_params.get(name.replace("-", "_")))
        if where == "query":
            values = request.get().query_params.getlist(name)
            if not values:
                return None
            is_array = "array" in _types(param.get("schema", {}))
            return values if is_array else values[-1]
        if where == "header":
            return request.get().headers.get(name)
        if where == "cookie":
            return request.get().cookies.get(name)
        return None

    @staticmethod
    def _coerce(raw: Any, schema: Mapping[str, Any]) -> Any:
        if isinstance(raw, str) and _types(schema) == ["array"]:
            raw = raw.split(",")  # a path or header array: style simple, comma separated
        if isinstance(raw, list):
            items = schema.get("items", {})
            if len(raw) == 1 and "," in raw[0]:
                raw = raw[0].split(",")
            return [coerce_scalar(v, items) for v in raw]
        return coerce_scalar(raw, schema)


class _LazyRequest:
    """The request as Connexion reads it, made only when a query, header or cookie parameter
    (or strict query checking) needs it: path parameters are in the scope already."""

    __slots__ = ("made", "scope")

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.made: ConnexionRequest | None = None

    def get(self) -> ConnexionRequest:
        if self.made is None:
            self.made = ConnexionRequest(self.scope)
        return self.made


def _summary(issues: list[Issue]) -> str:
    first = issues[0]
    where = f"{first['in']} parameter '{first['name']}'" if "name" in first else first["in"]
    more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
    return f"Invalid {where}: {first['message']}{more}"


# --- bodies ---------------------------------------------------------------------------------


class JSONRequestBodyValidator31(_Cached, RequestBodyValidator):
    """JSON request bodies checked with 2020-12 semantics, every problem reported."""

    def check(self, body: Any, *, schema: dict[str, Any], nullable: bool) -> None:
        if not nullable and body is None:
            issue = {"in": "body", "pointer": "/", "message": "request body must not be empty"}
            raise RequestValidationProblem("Request body must not be empty.", [issue])
        issues = schema_issues(self.compiled(schema), body, location="body")
        if issues:
            raise RequestValidationProblem(_summary(issues), issues)


# The body a response's JSON was written to by the app's jsonifier, and the value written:
# set in the request's task as the handler's answer is serialised, taken by its check.
_written: ContextVar[tuple[bytes, Any] | None] = ContextVar("craftkit_written", default=None)


def remember_written(body: bytes, value: Any) -> None:
    """`body` is orjson's writing of `value` (api/assembly.py's jsonifier says so)."""
    _written.set((body, value))


class JSONResponseBodyValidator31(_Cached, ResponseBodyValidator):
    """Response bodies checked against the contract; a mismatch is logged with its operation.

    A body the app's jsonifier has just written passes if the value it was written from does
    where that says the same (`Validator31.passes_as_written`): parsing the bytes back was a
    twentieth of a request's time. Anything else (a value that fails, the 3.0 validator,
    bytes from elsewhere) is parsed from the bytes and checked as before.
    """

    _sent: bytes | None = None  # the bytes, when `parse` returned the value they were written from

    def parse(self, body: bytes) -> Any:
        """The response body as JSON, read by orjson (UTF-8, as JSON on the wire is)."""
        written = _written.get()
        if written is not None:
            _written.set(None)
            if written[0] is body:  # these very bytes, not an equal copy from elsewhere
                self._sent = body
                return written[1]
        return self._loads(body)

    @staticmethod
    def _loads(body: bytes) -> Any:
        if not body:
            return None
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise NonConformingResponseBody(detail=str(exc)) from exc

    def check(self, body: Any, *, schema: dict[str, Any], operation_id: str | None) -> None:
        compiled = self.compiled(schema)
        if self._sent is not None:  # `body` is the value the bytes were written from
            if isinstance(compiled, Validator31) and compiled.passes_as_written(body):
                return
            body = self._loads(self._sent)
            if body is None and self.nullable:
                return  # what ResponseChecks skips for a null body (NaN written as null)
        issues = schema_issues(compiled, body, location="body")
        if not issues:
            return
        operation_id = operation_id or "(unknown operation)"
        logger.error(
            "response of %s does not conform to the contract: %s",
            operation_id,
            "; ".join(f"{i['pointer']}: {i['message']}" for i in issues),
        )
        raise NonConformingResponseBody(detail=f"Response of {operation_id} does not conform")


class TextResponseBodyValidator31(TextResponseBodyValidator, JSONResponseBodyValidator31):
    pass


def validator_map(cache: SchemaCache) -> dict[str, Any]:
    """Connexion's `validator_map` for one app: our validator classes bound to its cache."""

    def bound(base: type) -> type:
        return type(base.__name__, (base,), {"cache": cache})

    return {
        "parameter": bound(ParameterValidator),
        "body": by_media_type(
            {
                "*/*json": bound(JSONRequestBodyValidator31),
                "application/x-www-form-urlencoded": FormBodyValidator,
                "multipart/form-data": MultipartBodyValidator,
            }
        ),
        "response": by_media_type(
            {
                "*/*json": bound(JSONResponseBodyValidator31),
                "text/plain": bound(TextResponseBodyValidator31),
            }
        ),
    }
