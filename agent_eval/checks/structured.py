"""Checks on structured output: json (parses, optionally against a JSON Schema), contains_json and json_path.

The output is parsed as it is, surrounding whitespace aside: a reply wrapped in a Markdown code
fence is not JSON, because the program consuming it would not parse it either.
`json_path` uses jsonpath-ng's extended syntax (filters such as `$.items[?(@.qty > 1)]`); it
passes when *any* value the path selects satisfies `equals` (JSON equality, where true is not 1)
or `matches` (a search in Python `re` syntax on the value, non-strings as JSON text), or, with
neither option, when the path selects anything. Its `not_` form therefore passes when no selected value
does, including when the output is not JSON; combine it with `json: true` to require JSON.
`contains_json` (or `json: {extract: true}`) instead looks for JSON embedded in prose or a code
fence: it passes when the output as a whole, or any object or array inside it, is JSON (matching
the schema, when one is given).
jsonschema and jsonpath_ng are imported only when a suite uses these checks. Every user pattern
that runs on the output (`matches`, a schema's `pattern`/`patternProperties`, a path's `=~`
filter) is a bounded search (`agent_eval.userregex`, `agent_eval.jsonpath`); JSON nested too deeply to parse
fails with a reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from agent_eval.checks._schemas import check_refs, offline_registry
from agent_eval.checks._util import (
    RawCheck,
    expect_keys,
    expect_str,
    json_equal,
    output_start,
    quote,
    render_json,
    type_name,
)
from agent_eval.checks.base import CheckInput, CheckSpecError, Reason
from agent_eval.jsonpath import InvalidJsonPath, JsonPath
from agent_eval.jsonpath import parse as parse_jsonpath
from agent_eval.untrusted import NESTED_TOO_DEEPLY, parse_json
from agent_eval.userregex import Pattern, cached_regex, compile_user_regex, regex_error, search

__all__ = [
    "JsonPathSpec",
    "JsonSpec",
    "compile_contains_json",
    "compile_json",
    "compile_json_path",
    "eval_json",
    "eval_json_path",
]


@dataclass(frozen=True, slots=True)
class JsonSpec:
    """`json:`: a compiled JSON Schema validator, or None to require only valid JSON."""

    validator: Any = None
    source: str = ""  # "schema" or the schema file as written
    extract: bool = False  # look for JSON embedded in prose


def _load_schema_file(raw: RawCheck, value: Any) -> tuple[Any, str]:
    name = expect_str(value, "schema_file", hint=" (a path relative to the suite folder)")
    path = raw.base_dir / name
    if not path.is_file():
        raise CheckSpecError(f"schema file not found: {path}", key="schema_file")
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix in (".yaml", ".yml"):
            return yaml.safe_load(text), name
        return json.loads(text), name
    except RecursionError:
        raise CheckSpecError(f"cannot read schema file {path}: {NESTED_TOO_DEEPLY}", key="schema_file") from None
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise CheckSpecError(f"cannot read schema file {path}: {exc}", key="schema_file") from exc


def compile_json(raw: RawCheck) -> JsonSpec:
    """`json: true`, `json: {schema: {...}}`, `json: {schema_file: path}`, each with optional `extract: true`."""
    value = raw.value
    if value is True:
        return JsonSpec(extract=raw.name.endswith("contains_json"))
    hint = "true, {schema: {...}} or {schema_file: path}"
    if not isinstance(value, Mapping):
        raise CheckSpecError(f"expected {hint}, got {render_json(value)}", key=raw.name)
    expect_keys(value, ("schema", "schema_file", "extract"), owner=raw.name)
    extract = value.get("extract", False) is True or raw.name.endswith("contains_json")
    value = {k: v for k, v in value.items() if k != "extract"}
    if not value:
        return JsonSpec(extract=extract)
    if len(value) != 1:
        raise CheckSpecError(f"expected one of schema or schema_file; got {len(value)}", key=raw.name)
    if "schema" in value:
        schema, source, key = value["schema"], "schema", "schema"
    else:
        (schema, source), key = _load_schema_file(raw, value["schema_file"]), "schema_file"
    if not isinstance(schema, Mapping):
        raise CheckSpecError(f"a JSON Schema must be a mapping, got {type(schema).__name__}", key=key)
    from jsonschema import validators
    from jsonschema.exceptions import SchemaError
    from jsonschema.validators import validator_for

    cls = validator_for(schema)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        where = exc.json_path if exc.path else "$"
        raise CheckSpecError(f"invalid JSON Schema at {where}: {exc.message}", key=key) from exc
    check_refs(schema, key)
    bounded = validators.extend(cls, {"pattern": _pattern, "patternProperties": _pattern_properties})
    validator = bounded(schema, format_checker=cls.FORMAT_CHECKER, registry=offline_registry())
    return JsonSpec(validator=validator, source=source, extract=extract)


def compile_contains_json(raw: RawCheck) -> JsonSpec:
    """`contains_json: true` or with a schema: JSON anywhere in the output."""
    return compile_json(raw)


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    """JSON Schema `pattern`, as a bounded search."""
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "string") and search(cached_regex(pattern), instance) is None:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator: Any, patterns: Mapping[str, Any], instance: Any, schema: Any) -> Iterator[Any]:
    """JSON Schema `patternProperties`, matching property names with bounded searches."""
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if search(cached_regex(pattern), key) is not None:
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _parse(text: str) -> tuple[bool, Any, str]:
    """(ok, document, why not) for the stripped output."""
    try:
        return True, parse_json(text), ""
    except ValueError as exc:
        return False, None, f"{exc} ({output_start(text)})"


def eval_json(spec: JsonSpec, run: CheckInput) -> tuple[bool, str]:
    """The output parses as JSON (or, with extract, holds JSON) and, with a schema, validates against it."""
    if spec.extract:
        return _eval_embedded(spec, run.output)
    ok, doc, why = _parse(run.output.strip())
    if not ok:
        return False, f"expected JSON; invalid: {why}"
    if spec.validator is None:
        return True, f"output is valid JSON ({_kind(doc)})"
    from jsonschema.exceptions import best_match

    error = best_match(spec.validator.iter_errors(doc))
    if error is None:
        return True, f"output is JSON matching {spec.source}"
    message = error.message if len(error.message) <= 100 else error.message[:99] + "…"
    return False, f"expected JSON matching {spec.source}; at {error.json_path}: {message}"


def _eval_embedded(spec: JsonSpec, output: str) -> tuple[bool, str]:
    from agent_eval.checks.transforms import find_json_values

    docs = find_json_values(output)
    if not docs:
        return False, Reason(f"expected JSON in the output; found none ({output_start(output)})",
                             "output holds no JSON")
    if spec.validator is None:
        return True, Reason(f"output holds JSON ({_kind(docs[0])})", f"expected no JSON; found {_kind(docs[0])}")
    from jsonschema.exceptions import best_match

    first_error = None
    for doc in docs:
        error = best_match(spec.validator.iter_errors(doc))
        if error is None:
            return True, Reason(f"output holds JSON matching {spec.source}",
                                f"expected no JSON matching {spec.source}; found {render_json(doc)}")
        first_error = first_error or error
    assert first_error is not None
    message = first_error.message[:100]
    return False, Reason(f"expected JSON matching {spec.source}; {len(docs)} found, none matches "
                         f"(at {first_error.json_path}: {message})", f"no JSON matching {spec.source}")


def _kind(doc: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(doc), "a number")


_NO_VALUE = object()


@dataclass(frozen=True, slots=True)
class JsonPathSpec:
    """`json_path:` compiled: the path, and the value or pattern a selected value must have."""

    path: str
    expr: JsonPath
    equals: Any = _NO_VALUE
    matches: Pattern | None = None

    def expectation(self, negated: bool = False) -> str:
        """E.g. `$.status == "pending"`, or `$.status != "pending"` when negated."""
        if self.equals is not _NO_VALUE:
            return f"{self.path} {'!=' if negated else '=='} {render_json(self.equals)}"
        if self.matches is not None:
            return f"{self.path} {'not ' if negated else ''}matching /{self.matches.pattern}/"
        return f"{'no ' if negated else 'a '}value at {self.path}"


def compile_json_path(raw: RawCheck) -> JsonPathSpec:
    """`json_path: {path: "$.x", equals: v}` or `{path, matches: "regex"}`; `json_path: "$.x"` = exists."""
    value = raw.value
    if isinstance(value, str):
        value = {"path": value}
    if not isinstance(value, Mapping):
        hint = '{path: "$.status", equals: "ok"}'
        raise CheckSpecError(f"expected a mapping like {hint}, got {type_name(value)}", key=raw.name)
    expect_keys(value, ("path", "equals", "matches"), owner=raw.name)
    if "path" not in value:
        raise CheckSpecError('missing path: write {path: "$.status", equals: "ok"}', key=raw.name)
    if "equals" in value and "matches" in value:
        raise CheckSpecError("give equals or matches, not both", key="matches")
    path_key = "path" if isinstance(raw.value, Mapping) else raw.name
    path = expect_str(value["path"], path_key, hint=" (a JSONPath)")
    try:
        expr = parse_jsonpath(path)
    except InvalidJsonPath as exc:
        raise CheckSpecError(f"invalid JSONPath {quote(path)}: {exc}", key=path_key) from exc
    matches = None
    if "matches" in value:
        pattern = expect_str(value["matches"], "matches", hint=" (a regular expression)")
        try:
            matches = compile_user_regex(pattern)
        except regex_error as exc:
            message = f"invalid regular expression {quote(pattern)}: {exc}"
            raise CheckSpecError(message, key="matches") from exc
    return JsonPathSpec(path=path, expr=expr, equals=value.get("equals", _NO_VALUE), matches=matches)


def _satisfies(spec: JsonPathSpec, found: Any) -> bool:
    if spec.equals is not _NO_VALUE:
        return json_equal(found, spec.equals)
    if spec.matches is not None:
        text = found if isinstance(found, str) else json.dumps(found, ensure_ascii=False)
        return search(spec.matches, text) is not None
    return True


def eval_json_path(spec: JsonPathSpec, run: CheckInput) -> tuple[bool, str]:
    """Some value the path selects in the JSON output satisfies equals/matches (or exists)."""
    want, unwanted = spec.expectation(), spec.expectation(negated=True)
    ok, doc, why = _parse(run.output.strip())
    if not ok:
        return False, Reason(f"expected {want}; output is not JSON: {why}", f"output is not JSON: {why}")
    values = spec.expr.values(doc)
    if not values:
        return False, Reason(f"expected {want}; {spec.path} not found", f"{spec.path} not found")
    shown = render_json(values[0] if len(values) == 1 else values)
    hit = next((v for v in values if _satisfies(spec, v)), _NO_VALUE)
    if hit is _NO_VALUE:
        return False, Reason(f"expected {want}; found {shown}", f"{unwanted} (found {shown})")
    found = render_json(hit)
    return True, Reason(f"{want} (found {found})", f"expected {unwanted}; found {found}")
