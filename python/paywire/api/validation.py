"""Request input checked against the same JSON schemas the OpenAPI document publishes.

Schemas are written in the OpenAPI 3.0 dialect (`nullable`); they are translated to plain JSON
Schema for the validator, and failures become a `ValidationError` with one detail per field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.protocols import Validator

from paywire.errors import ValidationError

Schema = Mapping[str, Any]
_Keyword = Callable[[Validator, Any, Any, Schema], Iterator[jsonschema.ValidationError] | None]


def _unless_too_long(check: _Keyword) -> _Keyword:
    """`check`, skipped for an array longer than its schema's `maxItems`, which refuses it alone.

    iter_errors runs every keyword: `uniqueItems` compares every pair of items that cannot be
    hashed or sorted (a list of strings and numbers): most of a minute of the event loop for a
    list that fits in a body. `items` names each bad item: thousands of details for one problem."""

    def guarded(
        validator: Validator, value: Any, instance: Any, schema: Schema
    ) -> Iterator[jsonschema.ValidationError]:
        limit = schema.get("maxItems")
        if isinstance(instance, list) and isinstance(limit, int) and len(instance) > limit:
            return
        yield from check(validator, value, instance, schema) or ()

    return guarded


_Draft202012Bounded = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator,
    {kw: _unless_too_long(Draft202012Validator.VALIDATORS[kw]) for kw in ("items", "uniqueItems")},
)


def to_json_schema(schema: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` spelled as JSON Schema's `type: [T, "null"]`."""
    if isinstance(schema, Mapping):
        out = {k: to_json_schema(v) for k, v in schema.items() if k != "nullable"}
        if schema.get("nullable") is True:
            if "type" in out:
                out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
            if "$ref" in out or "allOf" in out:
                out = {"anyOf": [out, {"type": "null"}]}
        return out
    if isinstance(schema, list):
        return [to_json_schema(v) for v in schema]
    return schema


def compile_validator(
    schema: Schema, components: Mapping[str, Schema], *, where: str = "body"
) -> Callable[[Any], Any]:
    """A function that returns its argument when it satisfies `schema` and raises a
    `ValidationError` naming each offending field otherwise. `#/components/schemas/…`
    references resolve against `components`."""
    root = dict(to_json_schema(schema))
    root["components"] = {"schemas": to_json_schema(dict(components))}
    validator: Validator = _Draft202012Bounded(root, format_checker=FormatChecker())

    def validate(value: Any) -> Any:
        problems = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        details = [d for e in problems for d in _details(e, where)]
        details += [
            {"field": _field(path, where), "message": "must not contain the NUL character"}
            for path in _nul_paths(value, [])
        ]
        if details:
            # One problem can be reported by several schema branches; name it once.
            unique = list({(d["field"], d["message"]): d for d in details}.values())
            raise ValidationError(f"invalid {where}", details=unique)
        return value

    return validate


def _nul_paths(value: Any, path: list[str]) -> list[list[str]]:
    """Where `value` holds a string with U+0000: PostgreSQL cannot store one in `text`, and no
    field of ours has a use for it, so it is refused here rather than failing in the database."""
    if isinstance(value, str):
        return [path] if "\x00" in value else []
    if isinstance(value, Mapping):
        return [p for k, v in value.items() for p in _nul_paths(v, [*path, str(k)])]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _nul_paths(v, [*path, str(i)])]
    return []


# The checks a described value fails as a whole: its type, its pattern, its length.
_DESCRIBED = frozenset({"type", "pattern", "maxLength"})


def _details(error: jsonschema.ValidationError, where: str) -> list[dict[str, str]]:
    path = [str(p) for p in error.absolute_path]
    kind, expected = str(error.validator), error.validator_value
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if kind == "required" and isinstance(expected, list):
        present = error.instance if isinstance(error.instance, Mapping) else {}
        missing = [name for name in expected if name not in present]
        return [
            {"field": _field([*path, name], where), "message": "is required"} for name in missing
        ]
    if kind == "additionalProperties":
        known = set(schema.get("properties", {}))
        extra = sorted(set(error.instance) - known) if isinstance(error.instance, Mapping) else []
        return [
            {"field": _field([*path, name], where), "message": "is not a known field"}
            for name in extra
        ]
    if kind in _DESCRIBED and "description" in schema:
        # A schema that describes its values says what to send (amounts: 'a decimal string of
        # at most 18 digits, such as "1250.00"'): "must be of type string" reads as if any
        # string would do, and a regular expression is no answer to "12,50".
        return [{"field": _field(path, where), "message": f"must be {schema['description']}"}]
    return [{"field": _field(path, where), "message": _message(kind, expected)}]


def _field(path: list[str], where: str) -> str:
    return ".".join(path) if path else where


def _message(kind: str, expected: Any) -> str:
    # Written here rather than taken from jsonschema, whose messages quote the submitted value
    # (a password, an account number) back.
    messages: dict[str, Callable[[], str]] = {
        "type": lambda: f"must be of type {_types(expected)}",
        "minLength": lambda: f"must be at least {expected} characters long",
        "maxLength": lambda: f"must be at most {expected} characters long",
        "pattern": lambda: f"must match the pattern {expected}",
        "format": lambda: f"must be a valid {expected}",
        "enum": lambda: "must be one of " + ", ".join(str(v) for v in expected if v is not None),
        "minimum": lambda: f"must be at least {expected}",
        "maximum": lambda: f"must be at most {expected}",
        "minItems": lambda: f"must have at least {expected} items",
        "maxItems": lambda: f"must have at most {expected} items",
        "uniqueItems": lambda: "must not repeat items",
        "minProperties": lambda: "must not be empty",
    }
    return messages.get(kind, lambda: "is invalid")()


def _types(expected: Any) -> str:
    names = expected if isinstance(expected, list) else [expected]
    return " or ".join(str(n) for n in names if n != "null")
