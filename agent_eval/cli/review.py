"""`agent-eval review export|import`: pick judged outputs for a human, and store the human's scores."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["register"]

review_app = typer.Typer(help="Human review of judged outputs: export a CSV to score, import it as labels.",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(review_app, name="review")


def _criteria(suite_path: str) -> dict[tuple[str, str], str]:
    """(case, rubric) -> criteria, from the suite the run used when that file is still there."""
    from agent_eval.errors import AgentEvalError
    from agent_eval.suite.loader import load_suite

    try:
        suite = load_suite(Path(suite_path))
    except (AgentEvalError, OSError):
        return {}
    return {(c.id, r.name): r.criteria for c in suite.cases for r in c.rubrics}


@review_app.command("export")
def export(
    results: Path = typer.Argument(..., help="results.json, or the results folder."),
    to: Path = typer.Option(Path("review.csv"), "--to", help="The CSV to write."),
    margin: float = typer.Option(0.5, "--margin", min=0, help="Pick judge scores within this of the threshold."),
    spread: float = typer.Option(1.0, "--spread", min=0,
                                 help="Pick runs whose judge samples differ by at least this much."),
    random_n: int = typer.Option(10, "--random", min=0, help="Plus this many other judged outputs at random."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random pick."),
) -> int:
    """Write the judged outputs a human should score: near the threshold, judge self-disagreement, a random sample.

    Fill the human_score column (on the rubric's scale) and optionally reviewer and notes, then
    `agent-eval review import`.
    """
    from agent_eval.baseline.store import load_results
    from agent_eval.calibration.labels import review_rows, write_review_csv
    from agent_eval.cli._common import consoles

    out, _ = consoles(False)
    loaded = load_results(results)
    rows = review_rows(loaded, margin=margin, spread=spread, random_n=random_n, seed=seed,
                       criteria=_criteria(loaded.suite.path))
    write_review_csv(to, rows)
    counts: dict[str, int] = {}
    for row in rows:
        kind = row.why.split(" (")[0]
        counts[kind] = counts.get(kind, 0) + 1
    detail = ", ".join(f"{n} {kind}" for kind, n in counts.items()) or "no judged outputs in these results"
    out.print(f"wrote {len(rows)} row(s) to {to}: {detail}")
    return 0


@review_app.command("import")
def import_review(
    review: Path = typer.Argument(..., help="The review CSV with human_score filled in."),
    to: Path = typer.Option(Path("golden/labels"), "--to", help="Labels folder (one <suite>.jsonl per suite)."),
    reviewer: str | None = typer.Option(None, "--reviewer", help="Reviewer name for rows that leave it empty."),
) -> int:
    """Store the human scores as labels keyed by case, rubric and output hash (a re-score replaces the old one)."""
    from agent_eval.calibration.labels import labels_path, read_review_csv, write_labels
    from agent_eval.cli._common import consoles

    out, _ = consoles(False)
    labels, blank = read_review_csv(review, reviewer)
    by_suite: dict[str, list] = {}  # type: ignore[type-arg]
    for label in labels:
        by_suite.setdefault(label.suite, []).append(label)
    for suite, items in sorted(by_suite.items()):
        path = labels_path(to, suite)
        added, replaced = write_labels(path, items)
        out.print(f"{path}: {added} label(s) added, {replaced} replaced")
    out.print(f"{len(labels)} scored row(s) imported, {blank} row(s) without a human score left out")
    return 0
