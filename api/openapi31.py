"""OpenAPI 3.1 on stock Connexion 3.3, through its extension points only.

Connexion 3.3 checks documents against the 3.0 meta-schema (so it refuses `openapi: 3.1.0`) and
validates with JSON Schema Draft 4 (no `type: [string, 'null']`, no `format: uuid`). This module
changes three things and nothing else:

- `OpenAPI31Specification`, a spec class that validates the document with
  openapi-spec-validator (3.1, or 3.0 for older documents) and loads YAML without Connexion's
  Jinja pass, so the document is used exactly as written. `add_api()` registers it on an app.
- `VALIDATOR_MAP`, passed as Connexion's `validator_map`: parameter, JSON request-body and
  JSON response-body validators with OpenAPI 3.1 semantics (JSON Schema 2020-12 via
  openapi-schema-validator's `OAS31Validator`, formats asserted) that report *every* problem
  rather than the first.
- Compiled validators live in `SchemaCache`, filled once per document at start-up
  (`SchemaCache.warm`); Connexion instantiates validator classes per request, and those look
  schemas up here instead of compiling them again.
"""

from __future__ import annotations

import logging
import pathlib
import threading
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import yaml
from connexion.datastructures import MediaTypeDict
from connexion.exceptions import (
    BadRequestProblem,
    InvalidSpecification,
    NonConformingResponseBody,
)
from connexion.lifecycle import ConnexionRequest
from connexion.middleware.main import API
from connexion.spec import OpenAPISpecification
from connexion.validators import (
    FormDataValidator,
    JSONRequestBodyValidator,
    JSONResponseBodyValidator,
    MultiPartFormDataValidator,
    TextResponseBodyValidator,
)
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator
from openapi_schema_validator import (
    OAS30Validator,
    OAS31Validator,
    oas30_format_checker,
    oas31_format_checker,
)
from openapi_spec_validator import validate as validate_document
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from starlette.types import Scope

logger = logging.getLogger("craftkit.openapi31")

Issue = dict[str, Any]
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


# --- the document ---------------------------------------------------------------------------


def load_document(path: str | pathlib.Path) -> dict[str, Any]:
    """Parse a YAML or JSON document as written (no templating, unlike Connexion's loader)."""
    text = pathlib.Path(path).read_text(encoding="utf-8")
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidSpecification(f"not valid YAML or JSON: {problem}{where}") from None
    if not isinstance(document, dict):
        raise InvalidSpecification("not an OpenAPI document (top level is not a map)")
    return document


class OpenAPI31Specification(OpenAPISpecification):
    """Connexion's OpenAPI 3 spec class, validated as 3.1 (or 3.0) by openapi-spec-validator."""

    @classmethod
    def _validate_spec(cls, spec: dict[str, Any]) -> None:
        version = str(spec.get("openapi", ""))
        if not (version.startswith("3.1.") or version.startswith("3.0.")):
            raise InvalidSpecification(
                f"openapi: {version or '(missing)'} is not supported; expected 3.1.x or 3.0.x"
            )
        try:
            validate_document(spec)
        except OpenAPIValidationError as exc:
            # The validator's messages end with a dump of the whole instance: keep the sentence.
            what = exc.message.split("\n", 1)[0]
            where = " > ".join(str(part) for part in exc.absolute_path)
            raise InvalidSpecification(
                f"Invalid OpenAPI {version} document: {what}" + (f" (at {where})" if where else "")
            ) from exc

    @property
    def is_31(self) -> bool:
        return str(self.raw.get("openapi", "")).startswith("3.1.")

    @classmethod
    def from_path(cls, path: str | pathlib.Path) -> OpenAPI31Specification:
        document = load_document(path)
        return cls(document, base_uri=f"{pathlib.Path(path).resolve().parent}/")

    def operations(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(path, method, resolved operation) for every operation in the document."""
        for path, item in self.spec.get("paths", {}).items():
            for method in HTTP_METHODS:
                if isinstance(item.get(method), dict):
                    yield path, method, item[method]


def add_api(app: Any, spec: OpenAPI31Specification, **options: Any) -> None:
    """Register `spec` on a Connexion app, as `app.add_api` does for the documents it loads.

    Connexion's own `add_api` re-parses its argument with its 3.0-only `Specification.load`;
    this hands it the already validated 3.1 spec object instead.
    """
    middleware = app.middleware
    if middleware.middleware_stack is not None:
        raise RuntimeError("Cannot add an API after the application has started")
    SchemaCache.warm(spec)
    merged = middleware.options.replace(validator_map=VALIDATOR_MAP, **options)
    middleware.apis.append(API(spec, base_path=None, name=None, **merged.__dict__))


# --- compiled schemas -----------------------------------------------------------------------


class SchemaCache:
    """Validators compiled once per schema object, keyed by identity.

    The schema dict is kept alongside its validator, so an id can never be reused by another
    object while the entry lives.
    """

    _entries: ClassVar[dict[int, tuple[Mapping[str, Any], Validator]]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()
    compiled_on_demand: ClassVar[int] = 0

    @classmethod
    def get(cls, schema: Mapping[str, Any], *, oas30: bool = False) -> Validator:
        entry = cls._entries.get(id(schema))
        if entry is not None and entry[0] is schema:
            return entry[1]
        with cls._lock:
            cls.compiled_on_demand += 1
            return cls._compile(schema, oas30=oas30)

    @classmethod
    def _compile(cls, schema: Mapping[str, Any], *, oas30: bool) -> Validator:
        if oas30:
            validator: Validator = OAS30Validator(schema, format_checker=oas30_format_checker)
        else:
            validator = OAS31Validator(schema, format_checker=oas31_format_checker)
        cls._entries[id(schema)] = (schema, validator)
        return validator

    @classmethod
    def warm(cls, spec: OpenAPI31Specification) -> int:
        """Compile every parameter, request-body and response schema of `spec`; return how many."""
        oas30 = not spec.is_31
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
        with cls._lock:
            for schema in schemas:
                cls._compile(schema, oas30=oas30)
        return len(schemas)


def schema_issues(
    validator: Validator, instance: Any, *, location: str, name: str | None = None
) -> list[Issue]:
    """Every validation error as an issue: where (location, name, JSON pointer) and what."""
    issues = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.path))):
        issue: Issue = {"in": location}
        if name is not None:
            issue["name"] = name
        pointer = "".join(f"/{part}" for part in error.absolute_path)
        if pointer or location == "body":
            issue["pointer"] = pointer or "/"
        issue["message"] = _message(error)
        issues.append(issue)
    return issues


def _message(error: ValidationError) -> str:
    if error.validator == "format":
        return f"{error.instance!r} is not a valid {error.validator_value}"
    return error.message


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


class ParameterValidator:
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
        request = ConnexionRequest(scope)
        issues: list[Issue] = []
        if self.strict_validation:
            allowed = {p["name"] for p in self.parameters if p["in"] == "query"}
            allowed |= self.security_query_params
            for extra in sorted(set(request.query_params.keys()) - allowed):
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
                SchemaCache.get(schema), value, location=param["in"], name=param["name"]
            )
        if issues:
            raise RequestValidationProblem(_summary(issues), issues)

    @staticmethod
    def _raw_value(param: dict[str, Any], request: ConnexionRequest, scope: Scope) -> Any:
        where, name = param["in"], param["name"]
        if where == "path":  # Connexion routes `{my-param}` as `{my_param}`
            path_params = scope.get("path_params", {})
            return path_params.get(name, path_params.get(name.replace("-", "_")))
        if where == "query":
            values = request.query_params.getlist(name)
            if not values:
                return None
            is_array = "array" in _types(param.get("schema", {}))
            return values if is_array else values[-1]
        if where == "header":
            return request.headers.get(name)
        if where == "cookie":
            return request.cookies.get(name)
        return None

    @staticmethod
    def _coerce(raw: Any, schema: Mapping[str, Any]) -> Any:
        if isinstance(raw, list):
            items = schema.get("items", {})
            if len(raw) == 1 and "," in raw[0]:
                raw = raw[0].split(",")
            return [coerce_scalar(v, items) for v in raw]
        return coerce_scalar(raw, schema)


def _summary(issues: list[Issue]) -> str:
    first = issues[0]
    where = f"{first['in']} parameter '{first['name']}'" if "name" in first else first["in"]
    more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
    return f"Invalid {where}: {first['message']}{more}"


# --- bodies ---------------------------------------------------------------------------------


class JSONRequestBodyValidator31(JSONRequestBodyValidator):
    """JSON request bodies checked with 2020-12 semantics, every problem reported."""

    def _validate(self, body: Any) -> dict[str, Any] | None:
        if not self._nullable and body is None:
            issue = {"in": "body", "pointer": "/", "message": "request body must not be empty"}
            raise RequestValidationProblem("Request body must not be empty.", [issue])
        issues = schema_issues(SchemaCache.get(self._schema), body, location="body")
        if issues:
            raise RequestValidationProblem(_summary(issues), issues)
        return None


class JSONResponseBodyValidator31(JSONResponseBodyValidator):
    """Response bodies checked against the contract; a mismatch is logged with its operation."""

    @property
    def validator(self) -> Validator:  # type: ignore[override]
        return SchemaCache.get(self._schema)

    def _validate(self, body: Any) -> None:
        issues = schema_issues(self.validator, body, location="body")
        if not issues:
            return
        routing = self._scope.get("extensions", {}).get("connexion_routing", {})
        operation_id = routing.get("operation_id", "(unknown operation)")
        logger.error(
            "response of %s does not conform to the contract: %s",
            operation_id,
            "; ".join(f"{i['pointer']}: {i['message']}" for i in issues),
        )
        raise NonConformingResponseBody(detail=f"Response of {operation_id} does not conform")


class TextResponseBodyValidator31(TextResponseBodyValidator, JSONResponseBodyValidator31):
    pass


VALIDATOR_MAP: dict[str, Any] = {
    "parameter": ParameterValidator,
    "body": MediaTypeDict(
        {
            "*/*json": JSONRequestBodyValidator31,
            "application/x-www-form-urlencoded": FormDataValidator,
            "multipart/form-data": MultiPartFormDataValidator,
        }
    ),
    "response": MediaTypeDict(
        {
            "*/*json": JSONResponseBodyValidator31,
            "text/plain": TextResponseBodyValidator31,
        }
    ),
}
