"""Read YAML safely, keep the line of every node, and turn validation errors into messages.

Only `yaml.safe_load` semantics: no tags, no code. Pydantic error locations are mapped
back to YAML lines through `LineIndex`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from agent_eval.errors import InputError

__all__ = ["LineIndex", "find_invalid_text", "read_yaml", "validate", "version_gate"]

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class LineIndex:
    """Line numbers (1-based) of every key and item, by path from the document root."""

    lines: dict[Loc, int]

    def line_of(self, loc: Loc) -> int | None:
        """The line of the deepest known node on `loc`'s path."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return None

    def child(self, prefix: Loc) -> LineIndex:
        """The index of a subtree, re-rooted at `prefix`."""
        n = len(prefix)
        return LineIndex({k[n:]: v for k, v in self.lines.items() if k[:n] == prefix})


def _index(node: yaml.Node, loc: Loc, out: dict[Loc, int], seen: set[int]) -> None:
    out.setdefault(loc, node.start_mark.line + 1)
    if id(node) in seen:  # an alias: its lines are indexed where the anchor was defined
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*loc, key.value if isinstance(key, yaml.ScalarNode) else str(key.value))
            out[child] = key.start_mark.line + 1
            _index(value, child, out, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out[(*loc, i)] = item.start_mark.line + 1
            _index(item, (*loc, i), out, seen)


# libyaml's parser when PyYAML was built with it: an order of magnitude faster on large suites
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# Aliases may add at most this many nodes beyond the file's own: a "billion laughs" is refused, not expanded.
MAX_ALIAS_EXPANSION = 100_000
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Refused(Exception):
    """A YAML document that parses but is refused (duplicate key, alias bomb), with its line."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message, self.line = message, line


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _inspect(root: yaml.Node) -> None:
    """Refuse duplicate keys in a mapping, and aliases that would expand the document past the limit."""
    sizes: dict[int, int] = {id(root): 0}
    first_alias: yaml.Node | None = None
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:  # iterative, in document order (an anchor is sized before its aliases), no recursion limit
        node, done = stack.pop()
        children = _children(node)
        if done:
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in children)
            continue
        if isinstance(node, yaml.MappingNode):
            _duplicate_keys(node)
        stack.append((node, True))
        for child in reversed(children):
            if id(child) in sizes:
                first_alias = first_alias or child
            else:
                sizes[id(child)] = 0
                stack.append((child, False))
    if first_alias is not None and sizes[id(root)] - len(sizes) > MAX_ALIAS_EXPANSION:
        raise _Refused(f"aliases expand the document past {MAX_ALIAS_EXPANSION:,} extra nodes "
                       "(an alias bomb?); write the data out or nest fewer aliases (first reused anchor here)",
                       first_alias.start_mark.line + 1)


def _duplicate_keys(node: yaml.MappingNode) -> None:
    seen: dict[str, int] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE_TAG:
            continue
        line = key.start_mark.line + 1
        if key.value in seen:
            raise _Refused(f"duplicate key '{key.value}' (first at line {seen[key.value]}); "
                           "YAML would silently keep only the last value", line)
        seen[key.value] = line


MAX_DEPTH = 500
_START = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_END = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH before composing: libyaml's composer recurses in C and
    crashes the process on ~50,000 levels. Only a text that could nest that deep is scanned."""
    indent = max((len(line) - len(line.lstrip(" -?:")) for line in text.splitlines()), default=0)
    if text.count("[") + text.count("{") + indent <= MAX_DEPTH:
        return
    depth = 0
    for event in yaml.parse(text, Loader=_LOADER):  # the event parser keeps its own stack: no recursion
        if isinstance(event, _START):
            depth += 1
            if depth > MAX_DEPTH:
                raise _Refused(f"nested too deeply (more than {MAX_DEPTH} levels)", event.start_mark.line + 1)
        elif isinstance(event, _END):
            depth -= 1


def _parse(text: str) -> tuple[Any, yaml.Node | None]:
    """Compose the node tree once (for line numbers) and construct the data from it (safe types only)."""
    _check_depth(text)
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        _inspect(node)
        return loader.construct_document(node), node
    finally:
        loader.dispose()


def read_yaml(path: Path) -> tuple[Any, LineIndex]:
    """Parse a YAML file into plain data and the line index of its nodes."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read file: {exc}") from None
    try:
        data, node = _parse(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or str(exc)
        if exc.context_mark is not None and exc.context and mark is not None and mark.index >= len(text):
            mark = exc.context_mark  # "unclosed at end of file" is clearer at the line that opened it
            problem = f"{exc.context} opened here was never closed ({problem})"
        if "nesting depth" in problem:  # PyYAML >= 6.0.4 has its own limit, below ours
            problem = f"nested too deeply ({problem})"
        line = mark.line + 1 if mark else None
        raise InputError(path, f"malformed YAML: {problem}", line=line) from None
    except yaml.YAMLError as exc:
        raise InputError(path, f"malformed YAML: {exc}") from None
    except _Refused as exc:
        raise InputError(path, exc.message, line=exc.line) from None
    except RecursionError:
        raise InputError(path, "malformed YAML: nested too deeply") from None
    lines: dict[Loc, int] = {}
    if node is not None:
        try:
            _index(node, (), lines, set())
        except RecursionError:
            raise InputError(path, "malformed YAML: nested too deeply") from None
    bad = find_invalid_text(data)
    if bad is not None:
        loc, what = bad
        raise InputError(path, what, line=LineIndex(lines).line_of(loc), field=_field_name(loc) or None)
    return data, LineIndex(lines)


def find_invalid_text(data: Any, loc: Loc = ()) -> tuple[Loc, str] | None:
    """The first string (key or value) that is not valid Unicode text: a lone surrogate cannot be written out."""
    stack: list[tuple[Any, Loc]] = [(data, loc)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, str):
            if not _encodable(value):
                return where, "text holds a lone surrogate (invalid Unicode, e.g. \\ud800); fix the text"
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and not _encodable(key):
                    return where, "a key holds a lone surrogate (invalid Unicode)"
                stack.append((item, (*where, key if isinstance(key, str | int) else str(key))))
        elif isinstance(value, list | tuple):
            stack.extend((item, (*where, i)) for i, item in enumerate(value))
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def version_gate(path: Path, data: dict[str, Any], supported: int, index: LineIndex) -> None:
    """Refuse a file written for a newer schema before validating anything else."""
    version = data.get("schema_version", supported)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InputError(path, f"expected a positive integer, got {version!r}",
                         line=index.line_of(("schema_version",)), field="schema_version")
    if version > supported:
        raise InputError(
            path,
            f"schema_version {version} is newer than this agent-eval supports ({supported}); upgrade agent-eval",
            line=index.line_of(("schema_version",)), field="schema_version",
        )


def _field_name(loc: Loc) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts)


def _clean_loc(model: type[BaseModel], loc: Loc) -> Loc:
    """Drop pydantic's union-branch markers ('str', 'tuple[...]') that are not YAML keys."""
    return tuple(item for item in loc if not _is_branch(item))


def _message(error: dict[str, Any], model: type[BaseModel], loc: Loc) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_fields(model, loc[:-1])
        hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        suggestion = f"; did you mean '{hint[0]}'?" if hint else ""
        return f"unknown field '{loc[-1]}'{suggestion} (expected one of: {', '.join(sorted(allowed))})"
    if kind == "missing":
        return "required field is missing"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _allowed_fields(model: type[BaseModel], loc: Loc) -> list[str]:
    """The field names of the model found at `loc` (best effort through containers)."""
    current: Any = model
    for item in loc:
        if isinstance(item, int) or current is None:
            continue
        fields = getattr(current, "model_fields", {})
        info = fields.get(item)
        current = _inner_model(info.annotation) if info else None
    return list(getattr(current, "model_fields", {}))


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _is_branch(item: str | int) -> bool:
    return isinstance(item, str) and ("[" in item or item in {"str", "int", "float", "bool", "function-after"})


def _most_specific(errors: list[Any]) -> Any:
    """The error that best explains the others: an unknown field (a typo explains a "missing" one),
    and of a union's per-branch errors the deepest."""
    typos = [e for e in errors if e["type"] == "extra_forbidden"]
    first = typos[0] if typos else errors[0]
    loc = tuple(first["loc"])
    cut = next((i for i, item in enumerate(loc) if _is_branch(item)), None)
    if cut is None:
        return first
    same = [e for e in errors if tuple(e["loc"])[:cut] == loc[:cut]]
    return max(same, key=lambda e: len(e["loc"]))


def validate(model: type[M], data: Any, path: Path, index: LineIndex, *, root: Loc = ()) -> M:
    """Validate `data` as `model`; the first error becomes an InputError with file, line and field."""
    if not isinstance(data, dict):
        kind = "empty file" if data is None else f"a {type(data).__name__}"
        raise InputError(path, f"expected a mapping of fields at the top, got {kind}", line=1)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = _most_specific(errors)
        loc = _clean_loc(model, tuple(first["loc"]))
        message = _message(first, model, loc)
        more = len(errors) - 1
        if more:
            message += f" (and {more} more error{'s' if more > 1 else ''})"
        full = (*root, *loc)
        raise InputError(path, message, line=index.line_of(full), field=_field_name(full) or None) from None
