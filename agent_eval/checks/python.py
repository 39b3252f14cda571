"""User checks: `python: "module:function"`, imported by name, never evaluated from YAML.

The module is imported with the suite's folder first on `sys.path`, only for the import
itself: the folder is removed again afterwards, so imports the function does at call time do
not see it. When another folder's module of the same name is already loaded (two suites each
with a `checks.py`), the suite's own file is imported and the loaded one is left in place.
The function is called as `function(output, case, run)` (run is the CheckInput), with the check's
`config:` mapping as a `config` keyword when it accepts one, and returns a bool, a score in [0, 1],
`(bool or score, reason)` or `{pass, score, reason, named_scores}` (see checks/graded.py). An exception it raises fails the check, with a reason naming it; so does
`sys.exit()` (any BaseException but KeyboardInterrupt), at import time as at call time.

During a run the function is called in a worker process (`checks.runtime`), which is killed at the
check's time limit; this module holds what both sides share: importing, calling, interpreting.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from agent_eval.checks._util import RawCheck, expect_str, quote
from agent_eval.checks.base import CheckInput, CheckSpecError, Verdict
from agent_eval.checks.graded import Graded, read_result

__all__ = ["CallOutcome", "UserCheck", "call_user", "compile_python", "eval_python", "import_function",
           "interpret"]

_REF = re.compile(r"^(?P<module>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):(?P<attr>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)$")


@dataclass(frozen=True, slots=True)
class UserCheck:
    """A user's check function and the reference it was imported by."""

    ref: str
    function: Callable[..., Any]
    base_dir: Path = Path(".")  # the suite's folder, where the worker process imports the module from
    config: dict[str, Any] | None = None  # passed as `config=` when the function accepts it
    threshold: float | None = None  # a score passes at this; None: graded.DEFAULT_THRESHOLD


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
    config = raw.options.get("config")
    if config is not None and not isinstance(config, dict):
        raise CheckSpecError(f"config must be a mapping (passed as the config keyword), got {config!r}", key="config")
    threshold = raw.options.get("threshold")
    ok = isinstance(threshold, int | float) and not isinstance(threshold, bool) and 0 <= threshold <= 1
    if threshold is not None and not ok:
        raise CheckSpecError(f"threshold must be a number in [0, 1], got {threshold!r}", key="threshold")
    return UserCheck(ref=ref, function=function, base_dir=base_dir, config=config,
                     threshold=None if threshold is None else float(threshold))


def _describe(exc: BaseException) -> str:
    detail = str(exc).splitlines()[0] if str(exc) else ""
    return type(exc).__name__ + (f": {detail[:100]}" if detail else "")


def _takes_config(function: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "config" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def call_user(function: Callable[..., Any], run: CheckInput, config: dict[str, Any] | None = None) -> CallOutcome:
    """Call `function(output, case, run[, config=...])` with the public views (`CaseView`, `RunView`); whatever
    it raises (sys.exit included) is described."""
    from agent_eval.checks.views import run_view

    view = run_view(run)
    try:
        if config is not None and _takes_config(function):
            return CallOutcome(returned=function(view.output, view.case, view, config=config))
        return CallOutcome(returned=function(view.output, view.case, view))
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # the user's code is under test here, not agent-eval's
        return CallOutcome(raised=_describe(exc))


def interpret(check: UserCheck, outcome: CallOutcome) -> Graded:
    """The verdict, reason and score from what the function returned or raised."""
    if outcome.problem is not None:
        return Graded(False, f"{check.ref}: {outcome.problem}")
    if outcome.raised is not None:
        return Graded(False, f"{check.ref} raised {outcome.raised}")
    return read_result(check.ref, outcome.returned, check.threshold)


def eval_python(check: UserCheck, run: CheckInput) -> Verdict:
    """Call the user's function in this process (the runner uses a worker process instead)."""
    graded = interpret(check, call_user(check.function, run, check.config))
    return graded.passed, graded.reason, graded.score, graded.named_scores
