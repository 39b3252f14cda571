"""`agent-eval calibrate`: re-judge human-labelled outputs with the current judge and measure agreement."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.text import Text

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("calibrate")(calibrate)


def calibrate(
    suite_path: Path = typer.Argument(..., metavar="SUITE", help="The suite whose judge and rubrics to calibrate."),
    labels: list[Path] | None = typer.Option(None, "--labels", help="Labels files or folders; repeatable.",
                                             show_default="golden/labels/<suite>.jsonl beside the suite's golden data"),
    out: Path | None = typer.Option(None, "--out", help="Where to write <suite>.calibration.json.",
                                    show_default="the golden/labels folder"),
    save: bool = typer.Option(True, "--save/--no-save", help="Write the calibration file the reports show."),
    seed: int = typer.Option(0, "--seed", help="Seed for the judge calls."),
    max_concurrency: int = typer.Option(8, "--max-concurrency", "-j", min=1, help="Judge calls in flight."),
) -> int:
    """Re-judge the labelled outputs and compare judge with human, per rubric.

    Reports quadratic-weighted Cohen's kappa with its 95% interval, Spearman, the confusion matrix, the
    judge's bias and false-pass rate, and length bias. Trustworthy only when every rubric has at least 10
    labels and a kappa lower bound of at least 0.6; otherwise says which rubrics to fix or how many more labels would settle it.
    Exit 0 trustworthy, 1 not trustworthy, 2 invalid input.
    """
    import asyncio
    from datetime import UTC, datetime

    from agent_eval._files import write_atomic
    from agent_eval._plain import plain
    from agent_eval.calibration.calibration_file import build_calibration, calibration_path
    from agent_eval.calibration.labels import labels_folder, labels_path, read_labels
    from agent_eval.calibration.rejudge import rejudge
    from agent_eval.cli._common import consoles, say
    from agent_eval.errors import UsageError
    from agent_eval.judge import judge_provenance
    from agent_eval.suite.loader import load_suite

    console, err = consoles(False)
    suite = load_suite(suite_path)
    folder = labels_folder(suite.path)
    sources = labels or [labels_path(folder, suite.name)]
    if not labels and not sources[0].exists():
        raise UsageError(f"no labels at {sources[0]}; label outputs with `agent-eval review export` and "
                         "`review import`, or pass --labels")
    found = [label for label in read_labels(sources) if label.suite == suite.name]
    if not found:
        raise UsageError(f"no labels for suite '{suite.name}' in {', '.join(map(str, sources))}")
    judged, warnings = asyncio.run(rejudge(suite, found, seed=seed, concurrency=max_concurrency))
    for warning in warnings:
        say(err, "warning", warning)
    if not judged:
        raise UsageError("no label could be re-judged (see the warnings above)")
    model, prompt_hash = judge_provenance(suite, suite.cases)
    result = build_calibration(suite.name, judged, len(found), judge_model=model, prompt_hash=prompt_hash,
                               now=datetime.now(UTC).isoformat(timespec="seconds"))
    console.print(Text.assemble((plain(suite.name), "bold"), f": {result.judged} of {result.labels} labels "
                                f"re-judged by {plain(model or '')} (prompt {prompt_hash})"))
    for rubric in result.rubrics:
        _print_rubric(console, rubric)
    unlabelled = sorted({r.name for c in suite.cases for r in c.rubrics} - {r.rubric for r in result.rubrics})
    if unlabelled:
        say(err, "warning", f"no labels for rubric(s) {', '.join(unlabelled)}: not calibrated")
    verdict = ("TRUSTWORTHY", "green") if result.trustworthy else ("NOT TRUSTWORTHY", "red")
    console.print(Text.assemble(verdict, " judge: every rubric needs 10+ labels and the lower bound of its "
                                "weighted kappa >= 0.6"))
    if save:
        path = calibration_path(out or folder, suite.name)
        write_atomic(path, result.model_dump_json(indent=2) + "\n")
        console.print(f"calibration: {path}")
    return 0 if result.trustworthy else 1


def _num(x: float | None, fmt: str = ".2f") -> str:
    return "n/a" if x is None else format(x, fmt)


def _print_rubric(console: Console, r: object) -> None:
    from rich.table import Table

    from agent_eval._plain import plain
    from agent_eval.calibration.calibration_file import RubricCalibration

    assert isinstance(r, RubricCalibration)
    ci = f"[{r.kappa_ci[0]:.2f}, {r.kappa_ci[1]:.2f}]" if r.kappa_ci else "[n/a]"
    fp = "n/a" if r.false_pass_rate is None else f"{r.false_pass_rate:.0%}"
    console.print(Text.assemble("  rubric ", (plain(r.rubric), "bold"), f" (n={r.n}, scale {r.scale[0]}-{r.scale[1]}): "
                                f"weighted kappa {_num(r.kappa)} {ci} · Spearman {_num(r.spearman)} · "
                                f"bias {r.bias:+.2f} · false-pass {fp}"))
    console.print(f"    length vs score: judge {_num(r.length_judge)}, human {_num(r.length_human)}, "
                  f"judge - human {_num(r.length_residual)}")
    if r.judge_disagreement is not None:
        console.print(f"    ensemble: mean judge spread {r.judge_disagreement:.0%} of the scale, "
                      f"{r.escalations} output(s) the judges split on pass/fail (escalate to a human)")
    table = Table(title=None, show_edge=False, padding=(0, 1))
    table.add_column("human \\ judge")
    low = r.scale[0]
    for j in range(len(r.confusion)):
        table.add_column(str(low + j), justify="right")
    for i, row in enumerate(r.confusion):
        table.add_row(str(low + i), *(str(v) for v in row))
    console.print(table)
    console.print(f"    -> {r.advice}")
