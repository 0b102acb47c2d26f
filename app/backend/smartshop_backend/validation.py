"""Request parsing: malformed JSON is 400, a wrong field is 422 naming the field, a wrong query
parameter is 400 naming it. The same Field and Query definitions give the OpenAPI document its
request schemas (openapi.py), so what is documented is what is checked."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from flask import request

from .errors import APIError, Invalid


@dataclass(frozen=True)
class Field:
    kind: type | tuple[type, ...]
    required: bool = False
    choices: tuple[Any, ...] | None = None
    minimum: int | float | None = None
    maximum: int | float | None = None
    pattern: str | None = None
    max_length: int | None = None

    def schema(self) -> dict[str, Any]:
        """The JSON schema this field is checked against."""
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        types = [JSON_TYPES[k] for k in kinds]
        schema: dict[str, Any] = {"type": types[0] if len(types) == 1 else types}
        for key, value in (
            ("enum", list(self.choices) if self.choices is not None else None),
            ("minimum", self.minimum),
            ("maximum", self.maximum),
            ("pattern", f"^{self.pattern}$" if self.pattern is not None else None),
            ("maxLength", self.max_length),
        ):
            if value is not None:
                schema[key] = value
        return schema


# Control characters, zero-width and bidirectional overrides: they forge log lines and make a name
# display as another (a "trojan source" spoof) in the console.
UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
JSON_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean"}


def body_schema(fields: dict[str, Field]) -> dict[str, Any]:
    """The JSON schema of a body checked by body(fields)."""
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {name: spec.schema() for name, spec in fields.items()},
    }
    required = [name for name, spec in fields.items() if spec.required]
    if required:
        schema["required"] = required
    return schema


@dataclass(frozen=True)
class Query:
    """A query parameter: an integer within bounds (default when absent), or one of choices."""

    name: str
    default: int | None = None
    minimum: int = 0
    maximum: int = 2**63 - 1
    choices: tuple[str, ...] | None = None

    def get(self) -> Any:
        if self.choices is not None:
            return query_choice(self.name, self.choices)
        return query_int(self.name, self.default, self.minimum, self.maximum)

    def parameter(self) -> dict[str, Any]:
        if self.choices is not None:
            schema = Field(str, choices=self.choices).schema()
        else:
            schema = Field(int, minimum=self.minimum, maximum=self.maximum).schema()
        return {"name": self.name, "in": "query", "required": False, "schema": schema}


LIMIT = Query("limit", 50, 1, 500)
OFFSET = Query("offset", 0, 0, 10_000_000)


def body(fields: dict[str, Field]) -> dict[str, Any]:
    """The JSON object of the request, checked against fields. An empty body is an empty object."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        data: Any = {}
    else:
        if request.mimetype not in ("application/json", "") and not request.mimetype.endswith("+json"):
            raise APIError(f"body must be JSON (Content-Type application/json), got {request.mimetype}", 415)
        try:
            data = json.loads(raw)
        except RecursionError:
            raise APIError("body is nested too deeply", 400) from None
        except ValueError:  # UnicodeDecodeError is one
            raise APIError("body is not valid JSON", 400) from None
    if not isinstance(data, dict):
        raise APIError("body must be a JSON object", 400)
    if any(not _unicode(key) or (isinstance(value, str) and not _unicode(value)) for key, value in data.items()):
        # JSON's \ud800 escape alone decodes to a code point no UTF-8 text can hold (nor the database)
        raise APIError("body is not valid Unicode: a UTF-16 surrogate escape without its pair", 400)
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise Invalid(f"unknown field '{unknown[0]}'", field=unknown[0])
    for name, spec in fields.items():
        if name not in data:  # null is not absent: it is checked (and refused) like any wrong value
            if spec.required:
                raise Invalid(f"field '{name}' is required", field=name)
            continue
        _check(name, data[name], spec)
    return data


def _unicode(text: str) -> bool:
    """Whether text is valid Unicode (no lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check(name: str, value: Any, spec: Field) -> None:
    kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
    # bool is an int in Python; JSON true is never a valid number here
    if isinstance(value, bool) and bool not in kinds:
        raise Invalid(f"field '{name}' must be {_kind_name(kinds)}", field=name)
    if not isinstance(value, kinds):
        raise Invalid(f"field '{name}' must be {_kind_name(kinds)}", field=name)
    if spec.choices is not None and value not in spec.choices:
        raise Invalid(f"field '{name}' must be one of {', '.join(map(str, spec.choices))}", field=name)
    if spec.minimum is not None and value < spec.minimum:
        raise Invalid(f"field '{name}' must be at least {spec.minimum}", field=name)
    if spec.maximum is not None and value > spec.maximum:
        raise Invalid(f"field '{name}' must be at most {spec.maximum}", field=name)
    if isinstance(value, str) and UNPRINTABLE.search(value):
        raise Invalid(f"field '{name}' must not contain control or direction-override characters", field=name)
    if spec.max_length is not None and len(value) > spec.max_length:
        raise Invalid(f"field '{name}' must be at most {spec.max_length} characters", field=name)
    if spec.pattern is not None and not re.fullmatch(spec.pattern, value):
        raise Invalid(f"field '{name}' must match {spec.pattern}", field=name)


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "a boolean"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def query_int(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise APIError(f"query parameter '{name}' must be an integer", 400, field=name) from None
    if not low <= value <= high:
        raise APIError(f"query parameter '{name}' must be between {low} and {high}", 400, field=name)
    return value


def query_choice(name: str, choices: tuple[str, ...]) -> str | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    if raw not in choices:
        raise APIError(f"query parameter '{name}' must be one of {', '.join(choices)}", 400, field=name)
    return raw
