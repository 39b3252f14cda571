"""User checks: `python: "module:function"`, imported by name, never evaluated from YAML.

The module is imported with the suite's folder first on `sys.path`, only for the import
itself: the folder is removed again afterwards, so imports the function does at call time do
not see it. When another folder's module of the same name is already loaded (two suites each
with a `checks.py`), the suite's own file is imported and the loaded one is left in place.
The function is called as `function(output, case, run)` (run is the CheckInput) and returns a
bool or `(bool, reason)`. An exception it raises fails the check, with a reason naming it.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from agent_eval.checks._util import RawCheck, expect_str, quote
from agent_eval.checks.base import CheckInput, CheckSpecError

__all__ = ["UserCheck", "compile_python", "eval_python"]

_REF = re.compile(r"^(?P<module>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):(?P<attr>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)$")


@dataclass(frozen=True, slots=True)
class UserCheck:
    """A user's check function and the reference it was imported by."""

    ref: str
    function: Callable[..., Any]


def _local_source(top: str, base_dir: Path) -> bool:
    return (base_dir / f"{top}.py").is_file() or (base_dir / top).is_dir()


def _inside(module: ModuleType, base_dir: Path) -> bool:
    paths = [getattr(module, "__file__", None), *getattr(module, "__path__", [])]
    return any(p is not None and Path(p).resolve().is_relative_to(base_dir) for p in paths)


def _import(name: str, base_dir: Path) -> ModuleType:
    """Import `name` with base_dir first on sys.path, preferring base_dir's file to a loaded one."""
    top = name.split(".")[0]
    root = str(base_dir)
    loaded = sys.modules.get(top)
    shadowed = loaded is not None and _local_source(top, base_dir) and not _inside(loaded, base_dir)
    saved = {k: m for k, m in sys.modules.items() if k == top or k.startswith(top + ".")} if shadowed else {}
    for key in saved:
        del sys.modules[key]
    inserted = root not in sys.path
    if inserted:
        sys.path.insert(0, root)
    importlib.invalidate_caches()
    try:
        return importlib.import_module(name)
    finally:
        if inserted:
            sys.path.remove(root)
        if saved:
            for key in [k for k in sys.modules if k == top or k.startswith(top + ".")]:
                del sys.modules[key]
            sys.modules.update(saved)


def compile_python(raw: RawCheck) -> UserCheck:
    """Import the module and look up the function; any failure is a CheckSpecError."""
    ref = expect_str(raw.value, raw.name, hint=' like "my_checks:is_polite"')
    match = _REF.match(ref)
    if match is None:
        raise CheckSpecError(f'expected "module:function" (e.g. "my_checks:is_polite"), got {quote(ref)}',
                             key=raw.name)
    base_dir = raw.base_dir.resolve()
    try:
        module = _import(match["module"], base_dir)
    except ImportError as exc:
        raise CheckSpecError(f"cannot import {match['module']} from {base_dir}: {exc}", key=raw.name) from exc
    except Exception as exc:  # the user's module failed while importing; report it, do not crash
        raise CheckSpecError(
            f"importing {match['module']} raised {type(exc).__name__}: {exc}", key=raw.name
        ) from exc
    target: Any = module
    for part in match["attr"].split("."):
        if not hasattr(target, part):
            defined = sorted(
                n for n, v in vars(module).items()
                if callable(v) and getattr(v, "__module__", None) == module.__name__ and not n.startswith("_")
            )
            known = f"; it defines: {', '.join(defined[:10])}" if defined else ""
            message = f"module {match['module']} has no function {match['attr']}{known}"
            raise CheckSpecError(message, key=raw.name)
        target = getattr(target, part)
    if not callable(target):
        raise CheckSpecError(f"{ref} is not a function (it is {type(target).__name__})", key=raw.name)
    return UserCheck(ref=ref, function=target)


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_"):
        return bool(value)
    return None


def eval_python(check: UserCheck, run: CheckInput) -> tuple[bool, str]:
    """Call the user's function; its exceptions and malformed results fail the check."""
    try:
        result = check.function(run.output, run.case, run)
    except Exception as exc:  # the user's code is under test here, not agent-eval's
        detail = str(exc).splitlines()[0] if str(exc) else ""
        return False, f"{check.ref} raised {type(exc).__name__}" + (f": {detail[:100]}" if detail else "")
    reason = ""
    if isinstance(result, tuple) and len(result) == 2:
        result, reason = result
        reason = " ".join(str(reason).split())
    passed = _as_bool(result)
    if passed is None:
        return False, f"{check.ref} returned {type(result).__name__}; expected bool or (bool, reason)"
    return passed, reason or f"{check.ref} returned {passed}"
