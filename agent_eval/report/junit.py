"""JUnit XML: one testcase per case, for the test reporters of GitHub, GitLab and Jenkins.

A case with errored runs gets an <error> (missing data, not a quality failure); a case that
failed a run or regressed gets a <failure> with the reasons, and so does a critical case that did not
pass every run (`stats.reduce.critical_failed`: completing none counts), whatever its errors. The
verdict goes in properties.
"""

from __future__ import annotations

import statistics
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from agent_eval.baseline.schema import Baseline
from agent_eval.baseline.verdict import CaseDelta, CaseStatus, Verdict
from agent_eval.records import CaseResult, Results, RunStatus
from agent_eval.report._failures import CaseFailures, failure_view
from agent_eval.stats.reduce import critical_failed
from agent_eval.trace.failure import baseline_median_steps, failure_kind

from ._format import REDACTED, fmt_case_change, fmt_ck, fmt_score, strip_illegal_xml

__all__ = ["combine_junit", "render_junit"]

_FAILING = {CaseStatus.REGRESSED, CaseStatus.NEW_FAILURE}
_NA = "n/a"


def _clean(text: str) -> str:
    return strip_illegal_xml(text)


def _num(value: float | None, fmt: str = ".4f") -> str:
    return _NA if value is None else format(value, fmt)


def _properties(verdict: Verdict, failure_line: str | None = None) -> ET.Element:
    props = ET.Element("properties")
    values = [
        ("agent_eval.outcome", str(verdict.outcome)),
        ("agent_eval.rule", verdict.rule),
        ("agent_eval.score", _num(verdict.candidate_score)),
        ("agent_eval.baseline_score", _num(verdict.baseline_score)),
        ("agent_eval.relative_change", _num(verdict.relative_change)),
        ("agent_eval.p_value", _num(verdict.p_value, ".4g")),
        ("agent_eval.min_detectable_drop", _num(verdict.min_detectable_drop)),
        ("agent_eval.max_drop", _num(verdict.max_drop)),
        ("agent_eval.paired_cases", str(verdict.paired_cases)),
        ("agent_eval.exit_code", str(verdict.exit_code)),
    ]
    if verdict.sensitivity:
        values.append(("agent_eval.sensitivity", verdict.sensitivity))
    values += [(f"agent_eval.warning.{i + 1}", w) for i, w in enumerate(verdict.warnings)]
    values += [(f"agent_eval.note.{i + 1}", n) for i, n in enumerate(verdict.notes)]
    values += [(f"agent_eval.critical_failure.{i + 1}", c) for i, c in enumerate(verdict.critical_failures)]
    if failure_line:
        values.append(("agent_eval.failure_kinds", failure_line))
    for name, value in values:
        ET.SubElement(props, "property", name=name, value=_clean(value))
    return props


def _mean_latency_s(case: CaseResult) -> float:
    lat = [r.latency_ms for r in case.runs if r.latency_ms is not None]
    return statistics.fmean(lat) / 1000 if lat else 0.0


def _run_reasons(case: CaseResult, redact: bool, median: float | None) -> list[str]:
    """Failing checks and rubrics below threshold, per failed run; failure kinds against the baseline's
    `median` steps for this case."""
    lines = []
    for run in case.runs:
        if run.status is not RunStatus.FAILED:
            continue
        found = failure_kind(run, median)
        kind = f" ({found})" if found else ""
        lines.append(f"run {run.index + 1}: failed{kind}, score {fmt_score(run.score)}")
        for c in run.checks:
            if not c.passed and c.weight > 0:  # weight 0: informational, never why a run failed
                lines.append(f"  check {c.name}: {REDACTED if redact else c.reason}")
        for rb in run.rubrics:
            if rb.passed is False and rb.weight > 0:
                score = "n/a" if rb.score is None else f"{rb.score:g}"
                lines.append(f"  rubric {rb.name}: {score} < threshold {rb.threshold:g} on {rb.scale[0]}-{rb.scale[1]}")
    return lines


def _failure(case: CaseResult, delta: CaseDelta | None, redact: bool,
             kinds: CaseFailures | None = None, median: float | None = None) -> ET.Element | None:
    s = case.stats
    status = delta.status if delta else None
    critical = critical_failed(case)
    if status not in _FAILING and s.passed >= s.n and not critical:
        return None
    kind = str(status) if status in _FAILING else ("flaky" if s.flaky else "failed")
    if delta is not None and delta.baseline_n is not None:
        head = f"{kind}: passed {fmt_ck(delta.baseline_passed, delta.baseline_n)} -> {fmt_ck(s.passed, s.n)} runs"
        if delta.delta is not None:
            change = fmt_case_change(delta.delta, (delta.baseline_passed, delta.baseline_n), (s.passed, s.n))
            head += f", score {fmt_score(delta.baseline_score)} -> {fmt_score(delta.candidate_score)} ({change})"
    else:
        head = f"{kind}: passed {fmt_ck(s.passed, s.n)} runs, score {fmt_score(s.score)}"
    if critical:
        head += "; critical case" + ("" if s.n else f": no completed run ({s.errors} errored)")
    if kinds is not None and kinds.candidate:
        head += f"; failure kinds: {kinds.text}"
    el = ET.Element("failure", message=_clean(head), type=kind)
    el.text = _clean("\n".join([head, *_run_reasons(case, redact, median)]))
    return el


def _error(case: CaseResult) -> ET.Element | None:
    errored = [r for r in case.runs if r.status is RunStatus.ERRORED]
    if not errored:
        return None
    first = errored[0].error
    kind = first.kind if first else "error"
    head = f"{len(errored)} of {len(case.runs)} runs errored"
    if first is not None:
        head += f": {first.kind}" + (f" (HTTP {first.status})" if first.status else "") + f": {first.message}"
    lines = [head]
    for r in errored:
        e = r.error
        detail = f"{e.kind}, {e.attempts} attempt(s){f', HTTP {e.status}' if e.status else ''}: {e.message}" if e else "no detail"
        lines.append(f"run {r.index + 1}: {detail}")
    el = ET.Element("error", message=_clean(head.splitlines()[0][:500]), type=kind)
    el.text = _clean("\n".join(lines))
    return el


def _testcase(suite: str, case: CaseResult, delta: CaseDelta | None, redact: bool,
              kinds: CaseFailures | None = None, median: float | None = None) -> tuple[ET.Element, str]:
    classname = f"{suite}.{case.tags[0]}" if case.tags else suite
    tc = ET.Element("testcase", name=_clean(case.id), classname=_clean(classname), time=f"{_mean_latency_s(case):.3f}")
    err = _error(case)
    if err is not None and not critical_failed(case):  # missing data: an error, never also a failure
        tc.append(err)
        return tc, "error"
    fail = _failure(case, delta, redact, kinds, median)
    if fail is not None:
        if err is not None:  # a critical case that failed: its errors are part of why
            fail.text = f"{fail.text}\n{err.text}"
        tc.append(fail)
        return tc, "failure"
    return tc, "ok"


def _testsuite(results: Results, verdict: Verdict, redact: bool, baseline: Baseline | None = None) -> ET.Element:
    deltas = {d.case_id: d for d in verdict.cases}
    view = failure_view(results, baseline)
    kinds = {c.case_id: c for c in view.cases}
    medians = baseline_median_steps(baseline)
    cases = [_testcase(results.suite.name, c, deltas.get(c.id), redact, kinds.get(c.id), medians.get(c.id))
             for c in results.cases]
    time = sum(float(tc.get("time", "0")) for tc, _ in cases)
    ts = ET.Element(
        "testsuite",
        name=_clean(results.suite.name),
        tests=str(len(cases)),
        failures=str(sum(1 for _, k in cases if k == "failure")),
        errors=str(sum(1 for _, k in cases if k == "error")),
        skipped="0",
        time=f"{time:.3f}",
        timestamp=_clean(results.started_at),
    )
    ts.append(_properties(verdict, None if view.empty else view.line()))
    ts.extend(tc for tc, _ in cases)
    return ts


def _document(suites: Sequence[ET.Element]) -> str:
    root = ET.Element(
        "testsuites",
        name="agent-eval",
        tests=str(sum(int(s.get("tests", "0")) for s in suites)),
        failures=str(sum(int(s.get("failures", "0")) for s in suites)),
        errors=str(sum(int(s.get("errors", "0")) for s in suites)),
        time=f"{sum(float(s.get('time', '0')) for s in suites):.3f}",
    )
    root.extend(suites)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def render_junit(results: Results, verdict: Verdict, *, redact: bool = False, baseline: Baseline | None = None) -> str:
    """JUnit XML for one suite: a <testsuites> root holding one <testsuite>; failure kinds against `baseline`."""
    return _document([_testsuite(results, verdict, redact, baseline)])


def combine_junit(suites: Sequence[tuple[Results, Verdict] | tuple[Results, Verdict, Baseline | None]], *,
                  redact: bool = False) -> str:
    """JUnit XML for several suites of one run: one <testsuite> each, in the order given.

    Entries are (results, verdict) or (results, verdict, baseline); failure kinds compare with the baseline.
    """
    return _document([_testsuite(e[0], e[1], redact, e[2] if len(e) > 2 else None) for e in suites])
