"""`agent-eval import`: production logs to golden cases (sampled, deduplicated, tagged needs-review)."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("import")(import_logs)


def import_logs(
    logs: list[Path] = typer.Argument(..., help="Log files or folders: chat JSONL or OTLP/JSON traces."),
    to: Path = typer.Option(..., "--to", help="The golden cases file to append to (JSONL)."),
    rate: float = typer.Option(1.0, "--sample", min=0.0, max=1.0,
                               help="Share of unique conversations to keep, decided by a hash of each input."),
    stratify: str | None = typer.Option(None, "--stratify", metavar="FIELD",
                                        help="Sample within each value of this field (dotted for nested keys; "
                                        "span or resource attribute names for OTLP)."),
    min_per_stratum: int = typer.Option(1, "--min-per-stratum", min=0,
                                        help="With --stratify: at least this many cases per value."),
    redact: bool = typer.Option(False, "--redact", help="Mask e-mail addresses, phone and card numbers."),
    tags: list[str] | None = typer.Option(None, "--tag", help="Extra tag for the new cases; repeatable."),
    fmt: str = typer.Option("auto", "--format", help="auto, chat (OpenAI messages JSONL) or otlp (OTLP/JSON)."),
) -> int:
    """Append sampled production conversations to a golden cases file, as cases tagged `needs-review`.

    The same input always gets the same decision and the same case id (`prod-` and a hash of the normalised
    input), so importing again adds only new conversations. Cases tagged needs-review without checks or
    rubrics are listed by `run`, never gated, until a reviewer adds some.
    """
    from agent_eval.cli._common import consoles
    from agent_eval.errors import UsageError
    from agent_eval.importing.convert import ImportOptions, import_conversations
    from agent_eval.importing.logs import read_logs

    if fmt not in ("auto", "chat", "otlp"):
        raise UsageError(f"--format must be auto, chat or otlp, got {fmt!r}")
    if to.suffix != ".jsonl":
        raise UsageError(f"--to {to}: expected a .jsonl cases file")
    out, _ = consoles(False)
    options = ImportOptions(rate=rate, stratify=stratify, min_per_stratum=min_per_stratum, redact=redact,
                            tags=tuple(tags or ()))
    summary = import_conversations(read_logs(logs, fmt), to, options)
    out.print(f"read {summary.read} conversation(s) ({summary.skipped} without a user message skipped), "
              f"{summary.unique} unique inputs")
    out.print(f"sampled {summary.sampled} at {rate:g}"
              + (f" stratified by {stratify}" if stratify else "")
              + f"; {summary.existing} already in {to}")
    for stratum, count in sorted(summary.strata.items()) if stratify else ():
        out.print(f"  {stratify}={stratum}: {count}")
    out.print(f"wrote {summary.written} new case(s) tagged needs-review to {to}: add checks or rubrics to gate them")
    if summary.not_kept:
        parts = ", ".join(f"{count} {kind} part(s)" for kind, count in summary.not_kept.items())
        out.print(f"{parts} not kept: cases hold text only (see metadata.parts_not_kept)")
    return 0
