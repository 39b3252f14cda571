"""The action's gate step: run `agent-eval run` with the action's inputs and pass the verdict on.

Inputs are environment variables set by action.yml (AGENT_EVAL_SUITES, AGENT_EVAL_CONFIG, ...). Once agent-eval
has run, this step exits 0 and writes agent-eval's exit code to the step output `exit-code`; the action's last
step fails with it, so that the artifact upload and the pull-request comment still happen on a failed gate.

    python -m agent_eval.ci.gate
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_eval.ci._actions import annotate, set_outputs

__all__ = ["GateInputs", "GateResult", "gate_arguments", "main", "report_verdict", "run_gate"]

_EXIT_MEANING = {2: "invalid input or usage", 3: "run incomplete"}


@dataclass(frozen=True, slots=True)
class GateInputs:
    """The action's inputs, as agent-eval arguments."""

    suites: tuple[str, ...]
    out: Path
    config: str = ""
    baseline: str = ""
    max_drop: str = ""
    repeat: str = ""
    budget_usd: str = ""
    filters: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    require_baseline: bool = True  # a suite without a baseline is an error, not an ungated PASS
    new_suites: tuple[str, ...] = ()  # suites new in this change: exempt from require_baseline

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> GateInputs:
        """Read AGENT_EVAL_* variables; lists (suites, filter, extra-args) are split like a shell would."""
        def get(name: str) -> str:
            return env.get(f"AGENT_EVAL_{name}", "").strip()

        return cls(
            suites=tuple(shlex.split(get("SUITES"))) or ("suites",),
            out=Path(get("OUT") or "agent-eval-results"),
            config=get("CONFIG"), baseline=get("BASELINE"), max_drop=get("MAX_DROP"), repeat=get("REPEAT"),
            budget_usd=get("BUDGET"), filters=tuple(shlex.split(get("FILTER"))),
            extra=tuple(shlex.split(get("EXTRA_ARGS"))),
            require_baseline=get("REQUIRE_BASELINE").lower() not in ("false", "0", "no"),
            new_suites=tuple(shlex.split(get("NEW_SUITES"))),
        )


@dataclass(frozen=True, slots=True)
class GateResult:
    """What agent-eval returned: its exit code and the parsed `--format json` verdict (None if it printed none)."""

    exit_code: int
    verdict: dict[str, Any] | None
    out: Path


def gate_arguments(inputs: GateInputs) -> list[str]:
    """The `agent-eval` arguments for these inputs."""
    args = ["run", *inputs.suites, "--out", str(inputs.out), "--overwrite", "--format", "json"]
    if inputs.require_baseline:
        args.append("--require-baseline")
    for name in inputs.new_suites:
        args += ["--new-suite", name]
    for flag, value in (("--config", inputs.config), ("--baseline", inputs.baseline),
                        ("--max-drop", inputs.max_drop), ("--repeat", inputs.repeat),
                        ("--budget-usd", inputs.budget_usd)):
        if value:
            args += [flag, value]
    for pattern in inputs.filters:
        args += ["--filter", pattern]
    return args + list(inputs.extra)


def run_gate(inputs: GateInputs) -> GateResult:
    """Run agent-eval in a child process: its tables and progress go to the log, its JSON verdict is kept."""
    args = gate_arguments(inputs)
    print("agent-eval " + shlex.join(args), flush=True)
    proc = subprocess.run([sys.executable, "-m", "agent_eval", *args], stdout=subprocess.PIPE, text=True,
                          check=False)
    code = proc.returncode if proc.returncode in (0, 1, 2, 3) else 3
    try:
        verdict = json.loads(proc.stdout) if proc.stdout.strip() else None
    except (ValueError, RecursionError):
        print(proc.stdout, flush=True)
        verdict = None
    out = inputs.out.resolve()
    if verdict is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "verdict.json").write_text(json.dumps(verdict, indent=2) + "\n", encoding="utf-8")
    return GateResult(code, verdict if isinstance(verdict, dict) else None, out)


def _suite_file(suite: Mapping[str, Any]) -> str:
    """The suite's file, from its results.json, relative to the current folder when it can be."""
    try:
        results = json.loads(Path(str(suite.get("results"))).read_text(encoding="utf-8"))
        path = Path(results["suite"]["path"])
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return f"suites/{suite.get('suite', 'SUITE')}.yaml"
    try:
        return path.resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix()


def report_verdict(result: GateResult) -> None:
    """Annotations for the run: a notice per suite without a baseline, an error or warning per verdict."""
    if result.verdict is None:
        meaning = _EXIT_MEANING.get(result.exit_code, "see the log")
        annotate("error", f"agent-eval exited {result.exit_code} ({meaning}): the message is in the log above",
                 title="agent-eval did not gate")
        return
    for suite in result.verdict.get("suites", []):
        name, outcome, rule = suite.get("suite", "?"), suite.get("outcome", "?"), suite.get("rule", "")
        if not suite.get("baseline") and outcome != "INCOMPLETE":
            annotate("notice", f"Suite '{name}' has no baseline yet, so nothing was compared (only critical cases, "
                     f"absolute limits and errors were gated). Create one on main: `agent-eval run {_suite_file(suite)} "
                     f"--save-baseline`, then commit golden/baselines/{name}.json.",
                     title=f"agent-eval: no baseline for {name}")
        if outcome in ("FAIL", "INCOMPLETE"):
            annotate("error", rule, title=f"agent-eval {outcome} on {name}")
        elif outcome == "WARN":
            annotate("warning", rule, title=f"agent-eval WARN on {name}")


def main(env: Mapping[str, str] | None = None) -> int:
    """Run the gate, annotate, write the step outputs; 0 unless this helper itself failed."""
    env = os.environ if env is None else env
    inputs = GateInputs.from_env(env)
    result = run_gate(inputs)
    report_verdict(result)
    summary = result.out / "summary.md"
    outcome = str(result.verdict.get("outcome", "ERROR")) if result.verdict else "ERROR"
    set_outputs({
        "exit-code": str(result.exit_code),
        "outcome": outcome,
        "results": str(result.out) if result.out.exists() else "",
        "summary": str(summary) if result.verdict is not None and summary.exists() else "",
    }, env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
