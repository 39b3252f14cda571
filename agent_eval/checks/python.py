"""User checks: `python: "module:function"`, imported by name, never evaluated from YAML.

The module is imported with the suite's folder first on `sys.path`, only for the import
itself: the folder is removed again afterwards, so imports the function does at call time do
not see it. When another folder's module of the same name is already loaded (two suites each
with a `checks.py`), the suite's own file is imported and the loaded one is left in place.
The function is called as `function(output, case, run)` (run is the CheckInput) and returns a
bool or `(bool, reason)`. An exception it raises fails the check, with a reason naming it; so does
`sys.exit()` (any BaseException but KeyboardInterrupt), at import time as at call time.

During a run the function is called in a worker process (`checks.runtime`), which is killed at the
check's time limit; this module holds what both sides share: importing, calling, interpreting.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from agent_eval.checks._util import RawCheck, expect_str, quote
from agent_eval.checks.base import CheckInput, CheckSpecError

__all__ = ["CallOutcome", "UserCheck", "call_user", "compile_python", "eval_python", "import_function",
           "interpret"]

_REF = re.compile(r"^(?P<module>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):(?P<attr>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)$")


@dataclass(frozen=True, slots=True)
class UserCheck:
    """A user's check function and the reference it was imported by."""

    ref: str
    function: Callable[..., Any]
    base_dir: Path = Path(".")  # the suite's folder, where the worker process imports the module from


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """What one call of a user function produced: its raw return value, or what it raised."""

    returned: Any = None
    raised: str | None = None  # "ValueError: bad input", "SystemExit: 0"
    problem: str | None = None  # why there is no result at all (the worker could not import or send it)


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


def import_function(ref: str, base_dir: Path) -> Callable[..., Any]:
    """The function named by "module:function", imported from base_dir; raises CheckSpecError."""
    match = _REF.match(ref)
    if match is None:
        raise CheckSpecError(f'expected "module:function" (e.g. "my_checks:is_polite"), got {quote(ref)}')
    try:
        module = _import(match["module"], base_dir)
    except ImportError as exc:
        raise CheckSpecError(f"cannot import {match['module']} from {base_dir}: {exc}") from exc
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # the user's module failed (or called sys.exit) while importing
        raise CheckSpecError(f"importing {match['module']} raised {_describe(exc)}") from None
    target: Any = module
    for part in match["attr"].split("."):
        if not hasattr(target, part):
            defined = sorted(
                n for n, v in vars(module).items()
                if callable(v) and getattr(v, "__module__", None) == module.__name__ and not n.startswith("_")
            )
            known = f"; it defines: {', '.join(defined[:10])}" if defined else ""
            raise CheckSpecError(f"module {match['module']} has no function {match['attr']}{known}")
        target = getattr(target, part)
    if not callable(target):
        raise CheckSpecError(f"{ref} is not a function (it is {type(target).__name__})")
    return cast(Callable[..., Any], target)


def compile_python(raw: RawCheck) -> UserCheck:
    """Import the module and look up the function; any failure is a CheckSpecError."""
    ref = expect_str(raw.value, raw.name, hint=' like "my_checks:is_polite"')
    base_dir = raw.base_dir.resolve()
    try:
        function = import_function(ref, base_dir)
    except CheckSpecError as exc:
        raise CheckSpecError(str(exc), key=raw.name) from None
    return UserCheck(ref=ref, function=function, base_dir=base_dir)


def _describe(exc: BaseException) -> str:
    detail = str(exc).splitlines()[0] if str(exc) else ""
    return type(exc).__name__ + (f": {detail[:100]}" if detail else "")


def call_user(function: Callable[..., Any], run: CheckInput) -> CallOutcome:
    """Call `function(output, case, run)`; whatever it raises (sys.exit included) is caught and described."""
    try:
        return CallOutcome(returned=function(run.output, run.case, run))
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # the user's code is under test here, not agent-eval's
        return CallOutcome(raised=_describe(exc))


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_"):
        return bool(value)
    return None


def interpret(check: UserCheck, outcome: CallOutcome) -> tuple[bool, str]:
    """The verdict and reason from what the function returned or raised."""
    if outcome.problem is not None:
        return False, f"{check.ref}: {outcome.problem}"
    if outcome.raised is not None:
        return False, f"{check.ref} raised {outcome.raised}"
    result, reason = outcome.returned, ""
    if isinstance(result, tuple) and len(result) == 2:
        result, reason = result
        reason = " ".join(str(reason).split())
    passed = _as_bool(result)
    if passed is None:
        return False, f"{check.ref} returned {type(result).__name__}; expected bool or (bool, reason)"
    return passed, reason or f"{check.ref} returned {passed}"


def eval_python(check: UserCheck, run: CheckInput) -> tuple[bool, str]:
    """Call the user's function in this process (the runner uses a worker process instead)."""
    return interpret(check, call_user(check.function, run))
