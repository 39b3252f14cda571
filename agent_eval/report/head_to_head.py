"""`head_to_head.json` / `.html` (and `shadow.json` / `.html`): a candidate judged against a reference answer.

The reference is the baseline's output for the same case and repetition (`head_to_head: true` rubrics) or the
production reply a shadow replay compares with. Outputs are untrusted: escaped in HTML, masked with --redact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import jinja2
from pydantic import Field
from rich.console import Console
from rich.text import Text

from agent_eval._files import write_atomic
from agent_eval._plain import plain
from agent_eval.records import Record

__all__ = ["HEAD_TO_HEAD_SCHEMA_VERSION", "ComparedPair", "HeadToHead", "PositionBiasEntry", "WinRateEntry",
           "print_head_to_head", "render_head_to_head"]

HEAD_TO_HEAD_SCHEMA_VERSION = 1


class WinRateEntry(Record):
    """The candidate's record against the reference over a group of cases (all, a tag or a stratum)."""

    group: str = Field(description="`all`, a tag, or a stratum value.")
    cases: int = Field(ge=0)
    pairs: int = Field(ge=0, description="Pairs judged in both orders.")
    wins: int = Field(ge=0)
    ties: int = Field(ge=0)
    losses: int = Field(ge=0)
    win_rate: float | None = Field(None, ge=0, le=1, description="(wins + ties / 2) / pairs.")
    ci: tuple[float, float] | None = Field(None, description="95% interval of the win rate, clustered by case.")
    direction: str = Field(description="better, worse, or no significant difference (the interval against 0.5).")


class PositionBiasEntry(Record):
    """How often the judge named the answer it saw first; 0.5 is unbiased."""

    judgments: int = Field(ge=0)
    first_rate: float | None = Field(None, ge=0, le=1)
    inconsistent_pairs: int = Field(ge=0, description="Pairs whose two orders named the same position (ties).")


class ComparedPair(Record):
    """One pair: the candidate's run against the reference answer, judged in both orders."""

    case_id: str
    group: tuple[str, ...] = Field((), description="The tags or the stratum the pair counts in.")
    rubric: str
    index: int = Field(ge=0, description="The candidate's repetition.")
    outcome: str = Field(description="win, tie, loss, or error (the judge could not answer).")
    baseline_first: str | None = Field(None, description="The pick with the reference shown first: first, second, tie.")
    candidate_first: str | None = Field(None, description="The pick with the candidate shown first.")
    reasons: tuple[str, ...] = ()
    input: str = ""
    reference_output: str = ""
    candidate_output: str = ""
    error: str | None = None


class HeadToHead(Record):
    """The whole comparison of one candidate with its reference answers."""

    schema_version: int = HEAD_TO_HEAD_SCHEMA_VERSION
    kind: Literal["head_to_head", "shadow"] = Field(
        description="head_to_head (against a baseline) or shadow (against production replies).")
    suite: str
    candidate: str = Field(description="The candidate config's name and version.")
    reference: str = Field(description="The baseline's config, or the production log(s).")
    grouped_by: str = Field(description="tag, or the field a shadow replay stratified by.")
    overall: WinRateEntry
    groups: tuple[WinRateEntry, ...] = ()
    position_bias: PositionBiasEntry
    errors: int = Field(0, ge=0, description="Pairs the judge could not compare (missing data).")
    cost_usd: float | None = Field(None, ge=0, description="The judge's calls (and a shadow's candidate runs).")
    calls: int = Field(0, ge=0, description="Model calls made for the comparison.")
    pairs: tuple[ComparedPair, ...] = ()


def print_head_to_head(console: Console, h2h: HeadToHead) -> None:
    """The win rate overall and per group, the position bias, and where the candidate loses."""
    o = h2h.overall
    label = "head-to-head" if h2h.kind == "head_to_head" else "shadow"
    console.print(Text.assemble((f"{label}", "bold"), f" vs {plain(h2h.reference)}: {_line(o)}"))
    for g in h2h.groups:
        style = "green" if g.direction == "better" else "red" if g.direction == "worse" else ""
        console.print(Text.assemble(f"  {h2h.grouped_by} ", (plain(g.group), style), f": {_line(g)}"))
    b = h2h.position_bias
    if b.first_rate is not None:
        console.print(f"  judge position bias: named the first answer {b.first_rate:.0%} of the time; "
                      f"{b.inconsistent_pairs} pair(s) flipped with the order (counted as ties)",
                      markup=False, highlight=False)
    wins = [g.group for g in h2h.groups if g.direction == "better"]
    losses = [g.group for g in h2h.groups if g.direction == "worse"]
    if wins or losses:
        console.print(f"  the candidate wins on: {', '.join(wins) or '-'}; loses on: {', '.join(losses) or '-'}",
                      markup=False, highlight=False)
    if h2h.errors:
        first = next((p.error for p in h2h.pairs if p.error), "")
        console.print(f"  {h2h.errors} pair(s) not compared (judge errors), e.g. {plain(first or '')[:200]}",
                      markup=False, highlight=False)


def _line(w: WinRateEntry) -> str:
    if w.win_rate is None:
        return "no pair compared"
    ci = f" [{w.ci[0]:.2f}, {w.ci[1]:.2f}]" if w.ci else ""
    return (f"win rate {w.win_rate:.2f}{ci} over {w.cases} cases ({w.wins} wins, {w.ties} ties, {w.losses} losses)"
            f" · {w.direction}")


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
.better{color:#17803d}.worse{color:#b3261e}pre{white-space:pre-wrap;margin:0;max-width:40em}</style></head>
<body><h1>{{ title }}</h1>
<p>candidate <b>{{ h.candidate }}</b> against <b>{{ h.reference }}</b> · suite {{ h.suite }}
{% if h.cost_usd is not none %}· cost ${{ '%.4f' % h.cost_usd }}{% endif %} · {{ h.calls }} calls</p>
<table><tr><th>{{ h.grouped_by }}</th><th>cases</th><th>pairs</th><th>wins</th><th>ties</th><th>losses</th>
<th>win rate</th><th>95% CI</th><th></th></tr>
{% for g in [h.overall] + h.groups|list %}<tr class="{{ g.direction }}"><td>{{ g.group }}</td><td>{{ g.cases }}</td>
<td>{{ g.pairs }}</td><td>{{ g.wins }}</td><td>{{ g.ties }}</td><td>{{ g.losses }}</td>
<td>{{ '-' if g.win_rate is none else '%.2f' % g.win_rate }}</td>
<td>{{ '-' if g.ci is none else '[%.2f, %.2f]' % (g.ci[0], g.ci[1]) }}</td><td>{{ g.direction }}</td></tr>
{% endfor %}</table>
{% if h.position_bias.first_rate is not none %}<p>Judge position bias: the first answer shown was named
{{ '%.0f' % (100 * h.position_bias.first_rate) }}% of the time; {{ h.position_bias.inconsistent_pairs }} pair(s)
flipped with the order and count as ties.</p>{% endif %}
<h2>Where the candidate lost ({{ lost|length }})</h2>
{% if lost %}<table><tr><th>case</th><th>{{ h.grouped_by }}</th><th>input</th><th>reference</th><th>candidate</th>
<th>judge</th></tr>
{% for p in lost %}<tr><td>{{ p.case_id }} #{{ p.index }}</td><td>{{ p.group|join(', ') }}</td>
<td><pre>{{ p.input }}</pre></td><td><pre>{{ p.reference_output }}</pre></td><td><pre>{{ p.candidate_output }}</pre></td>
<td>{{ p.reasons|join(' | ') }}</td></tr>{% endfor %}</table>{% else %}<p>none</p>{% endif %}
</body></html>
"""


def render_head_to_head(h2h: HeadToHead, folder: Path, name: str) -> tuple[Path, Path]:
    """Write `<name>.json` and `<name>.html` into `folder`; returns their paths."""
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    title = "Head-to-head against the baseline" if h2h.kind == "head_to_head" else "Shadow replay"
    lost = [p for p in h2h.pairs if p.outcome == "loss"]
    html = env.from_string(_PAGE).render(h=h2h, title=title, lost=lost)
    json_path, html_path = folder / f"{name}.json", folder / f"{name}.html"
    write_atomic(json_path, h2h.model_dump_json(indent=2) + "\n")
    write_atomic(html_path, html)
    return json_path, html_path
