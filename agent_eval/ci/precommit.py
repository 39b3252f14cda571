"""The pre-commit hook: run the suites that the staged files belong to, on a fast subset.

    python -m agent_eval.ci.precommit [--suites-dir suites] [--tag smoke] [--repeat 1] FILE...

A staged suite runs itself; a staged config runs every suite (under --suites-dir) whose `config:` is that file;
a staged cases file runs the suites that read it through `cases_from`; a staged baseline
golden/baselines/<name>.json runs the suite named <name>. Suites with a case tagged `smoke` run only those cases,
the others run whole; both with k=1. Other files run nothing. The exit code is agent-eval's (0, 1, 2 or 3).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["SuiteRef", "find_suite_files", "main", "run_suites", "select_suites"]

@dataclass(frozen=True, slots=True)
class SuiteRef:
    """A suite file, with what it points to (resolved paths)."""

    path: Path
    name: str
    config: Path | None
    cases_from: tuple[Path, ...]


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def _suite_ref(path: Path) -> SuiteRef | None:
    """The suite declared by `path`, or None when it is not a suite file."""
    data = _read_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("suite"), str):
        return None
    here = path.resolve().parent
    config = here / data["config"] if isinstance(data.get("config"), str) else None
    raw = data.get("cases_from")
    sources = [raw] if isinstance(raw, str) else [s for s in raw if isinstance(s, str)] if isinstance(raw, list) else []
    return SuiteRef(path, data["suite"], config.resolve() if config else None,
                    tuple((here / s).resolve() for s in sources))


def find_suite_files(folder: Path) -> list[SuiteRef]:
    """Every suite under `folder`, found by the discovery rule every command uses, sorted by path."""
    from agent_eval.suite.discovery import yaml_files

    if not folder.is_dir():
        return []
    files = yaml_files(folder)
    return [ref for ref in map(_suite_ref, files) if ref is not None]


def _looks_broken_suite(path: Path) -> bool:
    """A staged YAML file that does not parse: run it so agent-eval reports where."""
    return path.suffix in (".yaml", ".yml") and path.exists() and _read_yaml(path) is None \
        and bool(path.read_text(encoding="utf-8", errors="replace").strip())


def select_suites(staged: Iterable[Path], suites: Sequence[SuiteRef]) -> list[Path]:
    """The suite files to run for these staged files, in a stable order, without duplicates."""
    chosen: dict[Path, None] = {}
    for file in staged:
        target = file.resolve()
        own = _suite_ref(file) if file.exists() else None
        if own is not None or _looks_broken_suite(file):
            chosen[file] = None
            continue
        is_baseline = target.parent.name == "baselines" and target.suffix == ".json"
        for ref in suites:
            if ref.config == target or target in ref.cases_from or (is_baseline and ref.name == target.stem):
                chosen[ref.path] = None
    return list(chosen)


def _has_tag(suite: Path, tag: str) -> bool | None:
    """Whether any case of the suite carries `tag`; None when the suite does not load (agent-eval will say why)."""
    from agent_eval.errors import AgentEvalError
    from agent_eval.suite.loader import load_suite

    try:
        loaded = load_suite(suite)
    except AgentEvalError:
        return None
    return any(tag in case.tags for case in loaded.cases)


def _run(suites: Sequence[Path], out: Path, repeat: int, filters: tuple[str, ...] = ()) -> int:
    """`agent-eval run SUITES` through the same library call as the CLI and the action; its exit code."""
    from agent_eval._plain import plain
    from agent_eval.errors import AgentEvalError
    from agent_eval.flow import RunRequest, execute
    from agent_eval.runner.session import RunOptions

    shown = " ".join([*map(str, suites), *(f"--filter {f}" for f in filters), "--out", str(out)])
    print(f"agent-eval run {shown} --repeat {repeat} --overwrite", flush=True)
    request = RunRequest(suites=tuple(suites), out=out, overwrite=True,
                         options=RunOptions(repeat=repeat, filters=filters))
    out_console, err_console = _consoles()
    try:
        return execute(request, out_console, err_console).exit_code
    except AgentEvalError as exc:
        print(f"error: {plain(str(exc))}", file=sys.stderr)
        return exc.exit_code


def _consoles() -> tuple[Any, Any]:
    from rich.console import Console

    return (Console(highlight=False, soft_wrap=True, markup=False),
            Console(stderr=True, highlight=False, soft_wrap=True, markup=False))


def run_suites(suites: Sequence[Path], *, tag: str, repeat: int, out: Path) -> int:
    """Run the suites with a smoke-tagged case on those cases, the rest whole, all with k=repeat."""
    from agent_eval.baseline.verdict import combined_exit

    tagged = [s for s in suites if _has_tag(s, tag)]
    whole = [s for s in suites if s not in tagged]
    codes = []
    if tagged:
        codes.append(_run(tagged, out / tag, repeat, (tag,)))
    if whole:
        codes.append(_run(whole, out / "all", repeat))
    return combined_exit(codes)


def main(argv: list[str] | None = None) -> int:
    """The hook's entry point."""
    parser = argparse.ArgumentParser(prog="python -m agent_eval.ci.precommit", description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", type=Path, help="staged files (pre-commit passes them)")
    parser.add_argument("--suites-dir", type=Path, default=Path("suites"), help="where suites live [suites]")
    parser.add_argument("--tag", default="smoke", help="run only cases with this tag when a suite has some [smoke]")
    parser.add_argument("--repeat", type=int, default=1, help="runs per case [1]")
    parser.add_argument("--out", type=Path, default=Path(".agent-eval/precommit"), help="results folder")
    args = parser.parse_args(argv)
    chosen = select_suites(args.files, find_suite_files(args.suites_dir))
    if not chosen:
        print("agent-eval: no suite uses the staged files; nothing to run")
        return 0
    print(f"agent-eval: checking {', '.join(map(str, chosen))} (k={args.repeat}, cases tagged {args.tag!r} "
          "where a suite has them)", flush=True)
    return run_suites(chosen, tag=args.tag, repeat=args.repeat, out=args.out)


if __name__ == "__main__":
    sys.exit(main())
