"""Number and text formatting shared by the HTML, Markdown and JUnit writers."""

from __future__ import annotations

import json
import re
from typing import Any, Protocol

from agent_eval.baseline.verdict import Outcome, Verdict

__all__ = [
    "DASH",
    "REDACTED",
    "fmt_case_change",
    "fmt_ci",
    "fmt_ck",
    "fmt_cost",
    "fmt_count",
    "fmt_ms",
    "fmt_pct",
    "fmt_pp",
    "fmt_rel",
    "fmt_score",
    "fmt_signed",
    "fmt_usd",
    "input_text",
    "short_hash",
    "strip_illegal_xml",
    "unknown_runs",
    "visible_controls",
]

DASH = "—"
REDACTED = "[redacted]"

# C0 controls (and DEL) are shown in HTML as their Unicode control pictures: visible, never markup.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return "\u2421" if code == 0x7F else chr(0x2400 + code)


def visible_controls(text: str) -> str:
    """Replace control characters (other than tab and newlines) with their visible pictures."""
    return _CONTROLS.sub(_picture, text)


# Characters XML 1.0 forbids even when escaped; model output can contain them.
_ILLEGAL_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def strip_illegal_xml(text: str) -> str:
    """Drop the characters that XML 1.0 cannot carry."""
    return _ILLEGAL_XML.sub("", text)


def fmt_score(value: float | None) -> str:
    """A score in [0, 1] with three decimals."""
    return DASH if value is None else f"{value:.3f}"


def fmt_ci(ci: tuple[float, float] | None, pct: bool = False) -> str:
    """A confidence interval as `[low, high]`."""
    if ci is None:
        return ""
    low, high = ci
    return f"[{fmt_pct(low)}, {fmt_pct(high)}]" if pct else f"[{low:.3f}, {high:.3f}]"


def fmt_pct(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage."""
    return DASH if value is None else f"{value * 100:.{digits}f}%"


def fmt_pp(value: float | None) -> str:
    """A difference of two fractions in percentage points, signed."""
    return DASH if value is None else f"{value * 100:+.1f} pp"


def fmt_rel(value: float | None) -> str:
    """A relative change, signed, as a percentage."""
    return DASH if value is None else f"{value * 100:+.1f}%"


def fmt_signed(value: float | None, digits: int = 3) -> str:
    """A signed difference."""
    return DASH if value is None else f"{value:+.{digits}f}"


def fmt_case_change(
    delta: float | None, base: tuple[int | None, int | None], cand: tuple[int | None, int | None]
) -> str:
    """A case's change as the gate used it: the score difference (never a rounded "+0.000" for a
    real change), and the pass-rate change when the passes moved (4/5 -> 3/5 is "-20 pp")."""
    parts = []
    if delta is not None:
        tiny = 0 < abs(delta) < 5e-4
        parts.append(f"score {delta:+.1e}" if tiny else f"score {delta:+.3f}")
    (bp, bn), (cp, cn) = base, cand
    if None not in (bp, bn, cp, cn) and bn and cn:
        pp = (cp / cn - bp / bn) * 100  # type: ignore[operator]
        if abs(pp) >= 0.05:
            parts.append(f"pass {pp:+.0f} pp")
    return ", ".join(parts) if parts else DASH


def fmt_count(value: int | None) -> str:
    """An integer, or a dash."""
    return DASH if value is None else str(value)


def fmt_ms(value: float | None) -> str:
    """A duration given in milliseconds, in ms or s."""
    if value is None:
        return DASH
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.2f} s"


def fmt_usd(value: float | None) -> str:
    """An amount in US dollars; small amounts keep four decimals."""
    if value is None:
        return DASH
    return f"${value:.4f}" if abs(value) < 1 else f"${value:,.2f}"


class Costed(Protocol):
    """A group of runs with a total cost (GroupStats, a matrix arm)."""

    @property
    def runs(self) -> int: ...
    @property
    def errors(self) -> int: ...
    @property
    def cost_usd(self) -> float: ...
    @property
    def cost_unknown_runs(self) -> int: ...


def fmt_cost(stats: Costed, *, short: bool = False) -> str:
    """A group's total cost: the sum; `unknown` when no run's cost is known (agents that report no usage,
    unpriced models); `≥ $X (N runs' cost unknown)` when only some are (`≥ $X` when `short`)."""
    unknown = stats.cost_unknown_runs
    if not unknown:
        return fmt_usd(stats.cost_usd)
    if stats.runs - stats.errors - unknown <= 0 and not stats.cost_usd:
        return "unknown"
    if short:
        return f"≥ {fmt_usd(stats.cost_usd)}"
    return f"≥ {fmt_usd(stats.cost_usd)} ({unknown_runs(unknown)} cost unknown)"


def unknown_runs(count: int) -> str:
    """`1 run's` or `N runs'`, before "cost unknown"."""
    return "1 run's" if count == 1 else f"{count} runs'"


def fmt_ck(passed: int | None, n: int | None) -> str:
    """Passed runs over completed runs, as `c/k`."""
    return DASH if passed is None or n is None else f"{passed}/{n}"


def short_hash(value: str | None, length: int = 12) -> str:
    """The first characters of a hash (an algorithm prefix such as `sha256:` is dropped)."""
    if not value:
        return DASH
    return value.split(":", 1)[-1][:length]


def input_text(value: Any) -> str:
    """A case input as readable text: strings as they are, anything else as indented JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(m, dict) and "role" in m for m in value):
        return "\n\n".join(f"[{m.get('role')}] {m.get('content', '')}" for m in value)
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def verdict_headline(v: Verdict) -> str:
    """The verdict in plain words for whoever owns the pull request; the statistics follow on their own lines.

    FAIL: quality dropped 10.5%, more than the 3% allowed; 9 cases got worse, e.g. invoice-json 10/10 → 2/5
    """
    worse = v.regressed()
    example = ""
    if worse:
        d = worse[0]
        moved = (f" {d.baseline_passed}/{d.baseline_n} → {d.candidate_passed}/{d.candidate_n}"
                 if None not in (d.baseline_passed, d.baseline_n, d.candidate_passed, d.candidate_n) else "")
        example = f"{len(worse)} case{'s' if len(worse) != 1 else ''} got worse, e.g. {d.case_id}{moved}"
    change, limit = v.relative_change, v.max_drop
    unit = (lambda x: f"{abs(x):.3f} points") if v.absolute_rule else (lambda x: f"{abs(x):.1%}")
    allowed = f"{limit:.3g} points" if v.absolute_rule else f"{limit:.0%}" if limit * 100 == round(limit * 100) \
        else f"{limit:.1%}"
    if v.outcome is Outcome.FAIL:
        if v.critical_failures:
            head = f"critical case{'s' if len(v.critical_failures) != 1 else ''} failed: " + \
                ", ".join(v.critical_failures[:3]) + (" …" if len(v.critical_failures) > 3 else "")
        elif change is not None and change < 0 and v.has_baseline:
            head = f"quality dropped {unit(change)}, more than the {allowed} allowed"
        else:
            first = v.rule.split("; ")[0]
            head = ("no baseline to compare with; " + first.removeprefix("no baseline: ")
                    if first.startswith("no baseline: ") else first)
        return "FAIL: " + "; ".join(p for p in (head, example) if p)
    if v.outcome is Outcome.INCOMPLETE:
        return "INCOMPLETE: the run cannot be judged: " + v.rule.split("; ")[0].removeprefix("no baseline: ")
    if not v.has_baseline:
        return f"{v.outcome}: no baseline to compare with; " + v.rule.removeprefix("no baseline: ")
    held = "quality held" if change is None or change >= 0 else f"quality dropped {unit(change)}"
    if change is not None and change > 0:
        held = f"quality rose {unit(change)}"
    if v.outcome is Outcome.WARN:
        return (f"WARN: {held}, which may be more than the {allowed} allowed, but the suite cannot tell "
                "(not significant)")
    noise = f"; {len(worse)} case{'s' if len(worse) != 1 else ''} moved down within noise" if worse else ""
    within = "" if change is not None and change > 0 else f", within the {allowed} allowed"
    return f"PASS: {held}{within}{noise}"
