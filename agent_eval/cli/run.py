"""`agent-eval run`: run suites k times, gate against the baseline, write results and reports."""

from __future__ import annotations

from pathlib import Path

import typer

from agent_eval.suite.schema import MAX_REPEAT

MAX_WORKERS = 8  # past a few cores, more processes only add start-up time and memory

__all__ = ["register"]

_HELP = """Run every case of SUITES (files or folders) k times and gate against the stored baseline.

Exit codes: 0 pass, 1 quality gate failed (or a critical case failed), 2 invalid input or usage (or no baseline
under --require-baseline), 3 run incomplete (a gated case has no completed run on one side, the infrastructure
error rate rose against the baseline's, interrupted, or stopped by a budget)."""


def register(app: typer.Typer) -> None:
    app.command("run", help=_HELP, no_args_is_help=False)(run)


def run(
    suites: list[Path] | None = typer.Argument(None, help="Suite files or folders of suites.", show_default=False),
    config: list[Path] | None = typer.Option(None, "--config", "-c", help="Candidate config (overrides the suite's); repeat it to compare several configs on the same cases and seeds (one matrix report).", show_default=False, metavar="FILE"),
    gate_against: Path | None = typer.Option(None, "--gate-against", help="With several --config: gate the others against this config's live results.", rich_help_panel="Gate", metavar="FILE"),
    repeat: int | None = typer.Option(None, "--repeat", "-k", min=1, max=MAX_REPEAT, help="Runs per case (k)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Results folder.", show_default=".agent-eval/runs/<time>-<suite>", rich_help_panel="Output"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Reuse a non-empty --out folder.", rich_help_panel="Output"),
    max_concurrency: int | None = typer.Option(None, "--max-concurrency", "-j", min=1, help="Calls in flight.", show_default="8", rich_help_panel="Limits and retries"),
    workers: int = typer.Option(1, "--workers", min=1, max=MAX_WORKERS, help="Processes making the candidate model's calls (OpenAI, Anthropic): more than 1 puts the SDKs' CPU on more cores; pacing, retries, budget, cache and runs.jsonl stay in one process.", rich_help_panel="Limits and retries"),
    seed: int = typer.Option(0, "--seed", help="Seed for the mock provider, cache keys and bootstrap."),
    filters: list[str] | None = typer.Option(None, "--filter", help="Only cases with this tag or id (glob); repeatable."),
    baseline: Path | None = typer.Option(None, "--baseline", help="Baseline file.", show_default="golden/baselines/<suite>.json in the nearest folder above the suite that has golden/baselines/ (else the git top level)", rich_help_panel="Gate"),
    require_baseline: bool = typer.Option(False, "--require-baseline", help="No baseline found is an error (exit 2), not an ungated PASS.", rich_help_panel="Gate"),
    new_suite: list[str] | None = typer.Option(None, "--new-suite", help="Suite name exempt from --require-baseline (new in this change); repeatable.", rich_help_panel="Gate"),
    errors_as_failures: bool = typer.Option(False, "--errors-as-failures", help="Score every errored run 0 (a failure) instead of missing data.", rich_help_panel="Gate"),
    max_drop: float | None = typer.Option(None, "--max-drop", min=0, help="Largest tolerated drop.", show_default="0.03", rich_help_panel="Gate"),
    alpha: float = typer.Option(0.05, "--alpha", min=0.0001, max=0.5, help="Significance level of the gate's test.", rich_help_panel="Gate"),
    strict: bool = typer.Option(False, "--strict", help="Fail on the point estimate alone (no significance test).", rich_help_panel="Gate"),
    absolute: bool = typer.Option(False, "--absolute", help="Read --max-drop as score points, not relative.", rich_help_panel="Gate"),
    strict_versioning: bool = typer.Option(False, "--strict-versioning", help="Exit 2 when a patch or minor version bump moved the score significantly.", rich_help_panel="Gate"),
    accept_unpaired: list[str] | None = typer.Option(None, "--accept-unpaired", help="Baseline case id that may be missing or changed without failing the gate; repeatable.", rich_help_panel="Gate", metavar="ID"),
    save_baseline: bool = typer.Option(False, "--save-baseline", help="Save this run as golden/baselines/<suite>.json (runs gate.baseline_repeat runs per case, default 2x k).", rich_help_panel="Gate"),
    rpm: float | None = typer.Option(None, "--rpm", min=0.001, help="Requests per minute to the candidate model.", rich_help_panel="Limits and retries"),
    tpm: float | None = typer.Option(None, "--tpm", min=1, help="Tokens per minute to the candidate model.", rich_help_panel="Limits and retries"),
    max_retries: int = typer.Option(8, "--max-retries", min=1, help="Attempts per call (5xx, timeouts, 429s that do not say when to retry).", rich_help_panel="Limits and retries"),
    max_wait: float = typer.Option(600.0, "--max-wait", min=0, help="Longest total wait of one run for retries and rate limits, in seconds.", rich_help_panel="Limits and retries"),
    max_retry_wait: float = typer.Option(120.0, "--max-retry-wait", min=0, help="Longest single Retry-After to follow, in seconds; a longer one errors the run.", rich_help_panel="Limits and retries"),
    timeout: float | None = typer.Option(None, "--timeout", min=0.001, help="Per-call timeout in seconds.", show_default="60", rich_help_panel="Limits and retries"),
    run_timeout: float | None = typer.Option(None, "--run-timeout", min=0.001, help="Per-run timeout, retries included.", rich_help_panel="Limits and retries"),
    budget_usd: float | None = typer.Option(None, "--budget-usd", min=0, help="Stop starting runs past this spend.", rich_help_panel="Budget, cache, resume, shards"),
    max_tokens_total: int | None = typer.Option(None, "--max-tokens-total", min=1, help="Token budget for the run.", rich_help_panel="Budget, cache, resume, shards"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would be sent, call nothing.", rich_help_panel="Budget, cache, resume, shards"),
    no_rerun_errors: bool = typer.Option(False, "--no-rerun-errors", help="Do not re-run provider, timeout and judge errors once at the end of the run.", rich_help_panel="Limits and retries"),
    no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the response cache.", rich_help_panel="Budget, cache, resume, shards"),
    cache_dir: Path = typer.Option(Path(".agent-eval/cache"), "--cache-dir", help="Response cache folder.", rich_help_panel="Budget, cache, resume, shards"),
    resume: Path | None = typer.Option(None, "--resume", help="Finish an interrupted run in this folder.", rich_help_panel="Budget, cache, resume, shards"),
    shard: str | None = typer.Option(None, "--shard", help="Run slice i of n (e.g. 2/4) by case-id hash.", rich_help_panel="Budget, cache, resume, shards"),
    output_format: str = typer.Option("text", "--format", help="text, or json for a machine-readable verdict on stdout.", rich_help_panel="Output"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Print the traceback or stderr of each crashed agent run.", rich_help_panel="Output"),
    redact: bool = typer.Option(False, "--redact", help="Leave inputs and outputs out of summary.md, mask them in HTML, JUnit and traces, and redact results.json and runs.jsonl.", rich_help_panel="Output"),
    adaptive: bool = typer.Option(False, "--adaptive", help="Sequential testing: start every case at --k-min runs and add runs only until the gate's verdict is decided (needs a baseline).", rich_help_panel="Gate"),
    k_min: int | None = typer.Option(None, "--k-min", min=1, help="Runs per case at the first look of --adaptive.", show_default="2", rich_help_panel="Gate"),
    trace_export: Path | None = typer.Option(None, "--trace-export", help="Write every run's trace as OTLP/JSON (GenAI semantic conventions); also sent to OTEL_EXPORTER_OTLP_ENDPOINT when set and the otel extra is installed.", rich_help_panel="Output"),
) -> int:
    from agent_eval.baseline.options import GateFlags
    from agent_eval.cli._common import consoles, parse_shard
    from agent_eval.cli.progress import make_progress
    from agent_eval.errors import UsageError
    from agent_eval.flow import RunRequest, execute
    from agent_eval.runner.session import RunOptions

    if output_format not in ("text", "json"):
        raise UsageError(f"--format must be text or json, got {output_format!r}")
    if resume is not None and suites:
        raise UsageError("--resume DIR takes no suite argument: the folder names its suite and config")
    if resume is None and not suites:
        raise UsageError("give a suite file or folder (or --resume DIR); see agent-eval run --help")
    if gate_against is not None and not config:
        raise UsageError("--gate-against compares configs; give the others with --config")
    options = RunOptions(
        repeat=repeat, seed=seed, max_concurrency=max_concurrency, rpm=rpm, tpm=tpm, max_retries=max_retries,
        max_wait_s=max_wait, max_retry_wait_s=max_retry_wait,
        timeout_s=timeout, run_timeout_s=run_timeout, budget_usd=budget_usd, budget_tokens=max_tokens_total,
        use_cache=not no_cache, cache_dir=cache_dir, filters=tuple(filters or ()), shard=parse_shard(shard),
        rerun_errors=not no_rerun_errors,
        workers=workers,
    )
    request = RunRequest(
        suites=tuple(suites or ()), configs=tuple(config or ()), gate_against=gate_against, options=options,
        out=out, overwrite=overwrite, baseline=baseline, save_baseline=save_baseline, dry_run=dry_run,
        resume=resume, verbose=verbose, trace_export=trace_export, adaptive=adaptive, k_min=k_min,
        gate=GateFlags(max_drop=max_drop, alpha=alpha, strict=strict, absolute=absolute, redact=redact,
                       errors_as_failures=errors_as_failures, require_baseline=require_baseline,
                       new_suites=tuple(new_suite or ()), strict_versioning=strict_versioning,
                       accept_unpaired=tuple(accept_unpaired or ())),
    )
    _collect_less_often()
    json_output = output_format == "json"
    out_console, err_console = consoles(json_output)
    outcome = execute(request, out_console, err_console, progress=make_progress)
    if json_output and not outcome.dry_run:
        from agent_eval.cli._common import print_json
        from agent_eval.flow.outcome import outcome_json

        print_json(outcome_json(outcome.suites))
    return outcome.exit_code


def _collect_less_often() -> None:
    """A run keeps thousands of long-lived records: stop rescanning them (measured: ~10% of a 5,000-run
    run's CPU went to the cyclic collector). Startup objects are frozen, and collections are rarer."""
    import gc

    gc.freeze()
    gc.set_threshold(20_000, 50, 100)
