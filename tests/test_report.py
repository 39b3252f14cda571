"""The report writers: JUnit against the Jenkins schema, the Markdown summary, the HTML report."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from html import unescape
from pathlib import Path

import pytest

from agent_eval.baseline.schema import Baseline, baseline_from_results
from agent_eval.baseline.verdict import (
    CaseDelta,
    CaseStatus,
    Outcome,
    TagDelta,
    Verdict,
)
from agent_eval.records import (
    CaseResult,
    CheckResult,
    ConfigInfo,
    Message,
    Results,
    RubricResult,
    RunError,
    RunRecord,
    RunStatus,
    SuiteInfo,
    ToolCall,
    Usage,
)
from agent_eval.report import (
    MARKER,
    append_step_summary,
    ci_run_url,
    combine_junit,
    combine_markdown,
    combined_outcome,
    render_html,
    render_junit,
    render_markdown,
    write_reports,
)
from agent_eval.report._config import version_bump
from agent_eval.stats.reduce import case_stats, summarize

XSD = Path(__file__).parent / "vendor" / "junit.xsd"
XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = '<img src=x onerror="window.__pwned=1">'
SYSTEM = "You are a support agent. Be brief."

# ---------------------------------------------------------------- factories


def make_run(
    case_id: str,
    index: int,
    *,
    passed: bool = True,
    score: float | None = None,
    output: str = "Your refund was issued today.",
    latency_ms: float = 800.0,
    error: RunError | None = None,
    reason: str = "expected 'refund' in the output; found it",
    rubric_score: float = 5.0,
) -> RunRecord:
    """One run: a check and a rubric that agree with `passed`; errored when `error` is given."""
    if error is not None:
        return RunRecord(case_id=case_id, index=index, status=RunStatus.ERRORED, passed=False, error=error, attempts=error.attempts)
    check = CheckResult(name="contains", passed=passed, reason=reason if passed else "expected 'refund' in the output; not found")
    rubric = RubricResult(
        name="helpfulness", score=rubric_score if passed else 2.0, normalized=1.0 if passed else 0.25,
        passed=passed, threshold=4, reasoning=f"The answer says: {output[:60]}", judge_model="judge-1",
    )  # fmt: skip
    return RunRecord(
        case_id=case_id, index=index, status=RunStatus.PASSED if passed else RunStatus.FAILED, passed=passed,
        score=score if score is not None else (1.0 if passed else 0.2), output=output,
        messages=(Message(role="system", content=SYSTEM), Message(role="user", content=f"question of {case_id}")),
        tool_calls=(ToolCall(id="t1", name="lookup", arguments='{"id": 7}'),),
        tokens=Usage(input_tokens=100, output_tokens=20), cost_usd=0.001, latency_ms=latency_ms,
        checks=(check,), rubrics=(rubric,), model="model-2024-11-20",
    )  # fmt: skip


def make_case(case_id: str, runs: Sequence[RunRecord], *, tags: tuple[str, ...] = (), critical: bool = False) -> CaseResult:
    return CaseResult(
        id=case_id, tags=tags, critical=critical, definition_hash=f"h-{case_id}", input=f"Question about {case_id}?",
        expected="A refund is issued.", runs=tuple(runs), stats=case_stats(runs, len(runs)),
    )  # fmt: skip


def make_results(cases: Sequence[CaseResult], *, suite: str = "support", version: str = "1.1.0", model: str = "model-b") -> Results:
    config = ConfigInfo(
        name="support-bot", version=version, hash=f"sha256:{version}", path="c.yaml", provider="mock", model=model,
        params={"temperature": 0.2}, system_prompt=SYSTEM, user_template="{{ input }}", judge_model="judge-1",
    )  # fmt: skip
    return Results(
        tool_version="0.1.0", suite=SuiteInfo(name=suite, path="s.yaml", hash="sha256:abc", repeat=3), config=config,
        seed=1, git_commit="deadbeef", started_at="2025-01-02T03:04:05Z", finished_at="2025-01-02T03:05:05Z",
        complete=True, cases=tuple(cases), summary=summarize(list(cases)),
    )  # fmt: skip


def passing(case_id: str, n: int = 3, output: str = "Your refund was issued today.", **kw: object) -> list[RunRecord]:
    return [make_run(case_id, i, output=output, **kw) for i in range(n)]  # type: ignore[arg-type]


def make_bundle() -> tuple[Results, Baseline, Verdict]:
    """A baseline and a candidate with every kind of case, and a FAIL verdict over them."""
    err = RunError(kind="provider", message="HTTP 503 from upstream", status=503, attempts=4)
    base_cases = [
        make_case("c-regress", passing("c-regress", output="Your refund of 20 USD was issued today."), tags=("billing",)),
        make_case("c-error", passing("c-error"), tags=("billing",)),
        make_case("c-xss", passing("c-xss"), tags=("safety",)),
        make_case("c-fixed", [make_run("c-fixed", i, passed=False) for i in range(3)], tags=("shipping",)),
        make_case("c-flaky", passing("c-flaky"), tags=("shipping", "returns")),
        make_case("c-plain", passing("c-plain")),
        make_case("c-missing", passing("c-missing"), tags=("returns",)),
    ]
    cand_cases = [
        make_case("c-regress", [make_run("c-regress", 0, output="Your refund was denied, sorry."),
                                make_run("c-regress", 1, passed=False, output="We cannot refund you."),
                                make_run("c-regress", 2, passed=False, output="No refund.")], tags=("billing",)),
        make_case("c-error", [make_run("c-error", 0, error=err), make_run("c-error", 1, error=err), make_run("c-error", 2)], tags=("billing",)),
        make_case("c-xss", passing("c-xss", output=f"Try this: {XSS_SCRIPT} and {XSS_IMG} \x00\x1b end"), tags=("safety",)),
        make_case("c-fixed", passing("c-fixed"), tags=("shipping",)),
        make_case("c-flaky", [make_run("c-flaky", 0), make_run("c-flaky", 1, passed=False), make_run("c-flaky", 2)], tags=("shipping", "returns")),
        make_case("c-plain", passing("c-plain")),
        make_case("c-new", passing("c-new"), tags=("returns",), critical=True),
    ]  # fmt: skip
    baseline = baseline_from_results(make_results(base_cases, version="1.0.0", model="model-a"))
    results = make_results(cand_cases)
    deltas = (
        CaseDelta("c-regress", ("billing",), CaseStatus.NEW_FAILURE, False, 3, 3, 1, 3, 0, 1.0, 0.47),
        CaseDelta("c-flaky", ("shipping", "returns"), CaseStatus.FLAKY, False, 3, 3, 2, 3, 0, 1.0, 0.73),
        CaseDelta("c-error", ("billing",), CaseStatus.ERROR, False, 3, 3, 1, 1, 2, 1.0, 1.0),
        CaseDelta("c-xss", ("safety",), CaseStatus.UNCHANGED, False, 3, 3, 3, 3, 0, 1.0, 1.0),
        CaseDelta("c-plain", (), CaseStatus.UNCHANGED, False, 3, 3, 3, 3, 0, 1.0, 1.0),
        CaseDelta("c-fixed", ("shipping",), CaseStatus.FIXED, False, 0, 3, 3, 3, 0, 0.2, 1.0),
        CaseDelta("c-new", ("returns",), CaseStatus.NEW, True, None, None, 3, 3, 0, None, 1.0),
        CaseDelta("c-missing", ("returns",), CaseStatus.MISSING, False, 3, 3, None, None, 0, 1.0, None),
    )
    verdict = Verdict(
        outcome=Outcome.FAIL, rule="score dropped 9.7% (limit 3.0%), p = 0.012 < 0.05",
        warnings=("1 case is new and not gated",), has_baseline=True, paired_cases=6,
        baseline_score=0.867, baseline_ci=(0.6, 1.0), candidate_score=0.783, candidate_ci=(0.55, 1.0),
        relative_change=-0.097, relative_change_ci=(-0.2, -0.01), p_value=0.012, min_detectable_drop=0.08,
        cases_needed=240, cases=deltas,
        tags=(TagDelta("billing", 2, 1.0, 0.735, -0.265, 0.01, 0.02, 0.05, True),
              TagDelta("shipping", 2, 0.6, 0.865, 0.44, 0.3, 0.3)),
    )  # fmt: skip
    return results, baseline, verdict


@pytest.fixture(scope="module")
def bundle() -> tuple[Results, Baseline, Verdict]:
    return make_bundle()


# ---------------------------------------------------------------- JUnit


def _junit(xml: str) -> ET.Element:
    return ET.fromstring(xml.encode("utf-8"))


def _testcase(root: ET.Element, name: str) -> ET.Element:
    found = [tc for tc in root.iter("testcase") if tc.get("name") == name]
    assert len(found) == 1, f"{name}: {len(found)} testcases"
    return found[0]


def test_junit_validates_against_the_jenkins_schema(bundle: tuple[Results, Baseline, Verdict]) -> None:
    xmlschema = pytest.importorskip("xmlschema", reason="xmlschema is a test-only dependency: pip install xmlschema")
    schema = xmlschema.XMLSchema(str(XSD))
    results, _, verdict = bundle
    single = render_junit(results, verdict)
    combined = combine_junit([(results, verdict), (make_results([make_case("x", passing("x"))], suite="other"), verdict)])
    schema.validate(single)
    schema.validate(combined)
    # The schema itself is strict enough to reject a broken document.
    assert not schema.is_valid(single.replace('tests="7" failures="2" errors="1" skipped', 'failures="2" errors="1" skipped'))


def test_junit_has_exactly_one_testcase_per_candidate_case(bundle: tuple[Results, Baseline, Verdict]) -> None:
    results, _, verdict = bundle
    root = _junit(render_junit(results, verdict))
    names = [tc.get("name") for tc in root.iter("testcase")]
    assert sorted(names) == sorted(c.id for c in results.cases)  # c-missing is baseline-only: not a test
    suite = root.find("testsuite")
    assert suite is not None and suite.get("tests") == "7"
    assert [child.tag for child in suite] == ["properties"] + ["testcase"] * 7
    assert _testcase(root, "c-regress").get("classname") == "support.billing"
    assert _testcase(root, "c-plain").get("classname") == "support"
    assert _testcase(root, "c-plain").get("time") == "0.800"  # mean latency in seconds


def test_junit_separates_errors_from_failures(bundle: tuple[Results, Baseline, Verdict]) -> None:
    results, _, verdict = bundle
    root = _junit(render_junit(results, verdict))
    regress = _testcase(root, "c-regress")
    failure = regress.find("failure")
    assert failure is not None and regress.find("error") is None
    assert "3/3 -> 1/3" in failure.get("message", "")
    assert "check contains: expected 'refund' in the output; not found" in (failure.text or "")
    assert "rubric helpfulness: 2 < threshold 4" in (failure.text or "")
    errored = _testcase(root, "c-error")
    error = errored.find("error")
    assert error is not None and errored.find("failure") is None
    assert "2 of 3 runs errored" in error.get("message", "") and "HTTP 503" in (error.text or "")
    flaky = _testcase(root, "c-flaky").find("failure")
    assert flaky is not None and flaky.get("type") == "flaky"
    for ok in ("c-xss", "c-fixed", "c-plain", "c-new"):
        assert list(_testcase(root, ok)) == [], ok
    suite = root.find("testsuite")
    assert suite is not None and (suite.get("failures"), suite.get("errors")) == ("2", "1")


def test_junit_properties_carry_the_verdict(bundle: tuple[Results, Baseline, Verdict]) -> None:
    results, _, verdict = bundle
    root = _junit(render_junit(results, verdict))
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["agent_eval.outcome"] == "FAIL"
    assert props["agent_eval.rule"] == verdict.rule
    assert props["agent_eval.score"] == "0.7830"
    assert props["agent_eval.baseline_score"] == "0.8670"
    assert props["agent_eval.relative_change"] == "-0.0970"
    assert props["agent_eval.p_value"] == "0.012"
    assert props["agent_eval.min_detectable_drop"] == "0.0800"
    assert props["agent_eval.warning.1"] == "1 case is new and not gated"


def test_junit_strips_characters_xml_cannot_carry() -> None:
    bad = "refund\x00 denied\x1b[0m \ud800"
    case = make_case("c\x01-ctl", [make_run("c\x01-ctl", 0, passed=False, output=bad)], tags=("t",))
    results = make_results([case])
    verdict = Verdict(outcome=Outcome.PASS, rule="rule with \x07 bell")
    xml = render_junit(results, verdict)
    root = _junit(xml)  # parses: no illegal character survived
    assert _testcase(root, "c-ctl").find("failure") is not None
    assert "\x00" not in xml and "\x07" not in xml


def test_junit_redaction_hides_check_reasons() -> None:
    case = make_case("c1", [make_run("c1", 0, passed=False, output="secret card 4111")])
    results = make_results([case])
    xml = render_junit(results, Verdict(outcome=Outcome.FAIL, rule="r"), redact=True)
    assert "not found" not in xml and "[redacted]" in xml


def test_combine_junit_one_testsuite_per_suite(bundle: tuple[Results, Baseline, Verdict]) -> None:
    results, _, verdict = bundle
    other = make_results([make_case("o1", passing("o1")), make_case("o2", passing("o2"))], suite="other")
    root = _junit(combine_junit([(results, verdict), (other, Verdict(outcome=Outcome.PASS, rule="ok"))]))
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["support", "other"]
    assert root.get("tests") == "9" and root.get("failures") == "2" and root.get("errors") == "1"
    assert sum(1 for _ in root.iter("testcase")) == 9


# ---------------------------------------------------------------- Markdown


def test_markdown_summary(bundle: tuple[Results, Baseline, Verdict]) -> None:
    results, baseline, verdict = bundle
    md = render_markdown(results, verdict, baseline, report_path="out/report.html")
    assert md.startswith(MARKER + "\n")
    assert "**FAIL**" in md
    assert "score dropped 9.7% (limit 3.0%)" in md
    assert "- 1 case is new and not gated" in md
    assert "| Pass rate | 85.7% | 85.7% |" in md
    assert "| `c-regress` | new failure | 3/3 -> 1/3 | 1.000 -> 0.470 | score -0.530, pass -67 pp |" in md
    assert "change -9.7% (one-sided 95% upper bound -1.0%)" in md
    assert "would FAIL with 80% power" not in md  # no power figures on a FAIL: it resolved its drop
    assert "`out/report.html`" in md and "`agent-eval-results` artifact" in md
    assert "Your refund" not in md and "question of" not in md  # never inputs or outputs
    assert not re.search(r"[\U0001F300-\U0001FAFF\u2600-\u27BF]", md)  # no emoji


def test_markdown_lists_at_most_five_most_regressed_in_verdict_order() -> None:
    results = make_results([make_case(f"c{i}", passing(f"c{i}")) for i in range(8)])
    deltas = tuple(
        CaseDelta(f"c{i}", (), CaseStatus.REGRESSED, False, 3, 3, 3, 3, 0, 1.0, 1.0 - (8 - i) / 10) for i in range(8)
    )
    verdict = Verdict(outcome=Outcome.FAIL, rule="r", has_baseline=True, cases=deltas)
    md = render_markdown(results, verdict)
    listed = re.findall(r"^\| `(c\d)` \|", md, flags=re.MULTILINE)
    assert listed == ["c0", "c1", "c2", "c3", "c4"]
    assert "(5 of 8)" in md


def test_markdown_escapes_case_ids_and_rule_text() -> None:
    results = make_results([make_case("a|b", passing("a|b"))])
    deltas = (CaseDelta("a|b", (), CaseStatus.REGRESSED, False, 3, 3, 1, 3, 0, 1.0, 0.5),)
    verdict = Verdict(outcome=Outcome.FAIL, rule="<img src=x> *bold*", has_baseline=True, cases=deltas)
    md = render_markdown(results, verdict)
    row = next(line for line in md.splitlines() if "a\\|b" in line and line.startswith("|"))
    assert row.count(" | ") == 4  # the id's pipe does not open a new column
    assert "\\<img src=x\\> \\*bold\\*" in md and not re.search(r"(?<!\\)<img", md)


def test_combined_outcome_precedence() -> None:
    def v(o: Outcome) -> Verdict:
        return Verdict(outcome=o, rule="")

    assert combined_outcome([v(Outcome.PASS), v(Outcome.WARN)]) is Outcome.WARN
    assert combined_outcome([v(Outcome.WARN), v(Outcome.FAIL), v(Outcome.PASS)]) is Outcome.FAIL
    assert combined_outcome([v(Outcome.FAIL), v(Outcome.INCOMPLETE), v(Outcome.WARN)]) is Outcome.INCOMPLETE
    assert combined_outcome([]) is Outcome.PASS


def test_combine_markdown(bundle: tuple[Results, Baseline, Verdict]) -> None:
    results, baseline, verdict = bundle
    other = make_results([make_case("o1", passing("o1"))], suite="other")
    md = combine_markdown([(results, verdict, baseline), (other, Verdict(outcome=Outcome.INCOMPLETE, rule="budget hit"))])
    assert md.startswith(MARKER) and md.count(MARKER) == 1
    assert "### agent-eval: **INCOMPLETE** (2 suites)" in md
    assert "| `support` | **FAIL** |" in md and "| `other` | **INCOMPLETE** |" in md
    assert "#### agent-eval: **FAIL** on `support`" in md and "budget hit" in md


def test_append_step_summary(tmp_path: Path) -> None:
    target = tmp_path / "step.md"
    target.write_text("earlier\n", encoding="utf-8")
    assert append_step_summary("# one", {"GITHUB_STEP_SUMMARY": str(target)}) == target
    append_step_summary("# two\n", {"GITHUB_STEP_SUMMARY": str(target)})
    assert target.read_text(encoding="utf-8") == "earlier\n# one\n# two\n"
    assert append_step_summary("# three", {}) is None


# ---------------------------------------------------------------- HTML


def _details(html: str) -> list[str]:
    """The case-detail fragments of the inert JSON data block, in row order."""
    block = re.search(r'<script type="application/json" id="case-details">(.*?)</script>', html, flags=re.DOTALL)
    assert block is not None
    assert "</" not in block.group(1) and "<!--" not in block.group(1)  # nothing inside can end the block early
    return list(json.loads(block.group(1)))


def test_html_escapes_model_output(bundle: tuple[Results, Baseline, Verdict]) -> None:
    results, baseline, verdict = bundle
    html = render_html(results, verdict, baseline)
    for text in (html, *_details(html)):
        assert XSS_SCRIPT not in text
        assert not re.search(r"<(?:img|script>alert)", text)  # only '&lt;img', '&lt;script&gt;' appear
    detail = _details(html)[[d.case_id for d in verdict.cases].index("c-xss")]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in detail
    assert re.search("&lt;img src=x onerror=(?:&quot;|&#34;)window", detail)
    assert html.count("<script") == 2  # the inert case-detail data block and the report's own script
    assert "\x00" not in html and "\u2400" in detail  # a NUL in the output is shown as a control picture


def test_html_is_self_contained(bundle: tuple[Results, Baseline, Verdict]) -> None:
    results, baseline, verdict = bundle
    html = render_html(results, verdict, baseline)
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, flags=re.IGNORECASE)
    assert "<link" not in html and "@import" not in html and "url(" not in html
    assert "<style>" in html and "viewBox" in html  # inline CSS and inline SVG charts
    for case_id in ("c-regress", "c-flaky", "c-missing", "c-new"):
        assert f">{case_id}<" in html  # ids are plain text in the file


def test_html_script_is_pinned_by_its_csp_hash(bundle: tuple[Results, Baseline, Verdict]) -> None:
    results, baseline, verdict = bundle
    html = render_html(results, verdict, baseline)
    script = re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    assert len(script) == 1
    digest = base64.b64encode(hashlib.sha256(script[0].encode()).digest()).decode()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert csp is not None
    policy = unescape(csp.group(1))
    assert f"script-src 'sha256-{digest}'" in policy and "default-src 'none'" in policy


def test_html_shows_verdict_metrics_and_provenance(bundle: tuple[Results, Baseline, Verdict]) -> None:
    results, baseline, verdict = bundle
    html = render_html(results, verdict, baseline)
    assert 'class="banner o-FAIL"' in html and "score dropped 9.7% (limit 3.0%)" in html
    assert "p = 0.012" in html and "one-sided 95% upper bound -1.0%" in html
    assert "would FAIL with 80% power" not in html  # only on PASS and WARN
    assert "0.867 [0.600, 1.000]" in html and "0.783 [0.550, 1.000]" in html
    assert '<td class="num bad">-19.0 pp</td>' in html  # pass^k fell (c-error, 1 of 3 runs, has none): a bad delta
    assert "model-a" in html and "model-b" in html
    # The config diff names the version bump and the model change.
    assert ">minor</span>" in html and "a model switch is a major change" in html


def test_html_case_rows_follow_the_verdict_and_carry_filters(bundle: tuple[Results, Baseline, Verdict]) -> None:
    results, baseline, verdict = bundle
    html = render_html(results, verdict, baseline)
    order = re.findall(r'<details class="case" data-status="([a-z_]+)" data-tags="[^"]*" data-key="([^ "]+)', html)
    assert [key for _, key in order] == [d.case_id for d in verdict.cases]
    assert {k: s for s, k in order}["c-error"] == "error"
    assert 'data-status="new_failure"' in html and ">new failure<" in html
    assert '<option value="shipping">shipping (2)</option>' in html


def test_html_puts_changed_outputs_side_by_side_for_the_browser_diff(bundle: tuple[Results, Baseline, Verdict]) -> None:
    results, baseline, verdict = bundle
    html = render_html(results, verdict, baseline)
    detail = _details(html)[0]  # c-regress, the most regressed
    # Both texts, plain: the changed words are marked by diff.js when the case is opened.
    assert '<div class="sbs" data-diff><div><h5>Baseline output</h5><pre>Your refund of 20 USD was issued today.</pre>' in detail
    assert "<h5>Candidate output</h5><pre>Your refund was denied, sorry.</pre>" in detail
    assert "<del>" not in detail and "<ins>" not in detail


def test_html_redaction_hides_inputs_outputs_and_reasoning(bundle: tuple[Results, Baseline, Verdict]) -> None:
    results, baseline, verdict = bundle
    html = render_html(results, verdict, baseline, redact=True)
    text = unescape(html + "".join(_details(html)))
    for secret in ("Your refund", "alert(1)", "Question about", "question of c-regress", "The answer says", '"id": 7'):
        assert secret not in text, secret
    assert "[redacted]" in text and "c-regress" in html  # ids and figures stay
    assert "expected 'refund'" not in text  # check reasons can quote the output


def test_write_reports_redacted_summary_has_no_outputs(tmp_path: Path, bundle: tuple[Results, Baseline, Verdict]) -> None:
    results, baseline, verdict = bundle
    paths = write_reports(tmp_path, results, verdict, baseline, redact=True)
    for path in (paths.html, paths.markdown, paths.junit):
        assert "Your refund" not in unescape(path.read_text(encoding="utf-8")), path.name


def test_html_without_baseline_shows_the_single_run() -> None:
    cases = [make_case("solo-1", passing("solo-1"), tags=("a",)), make_case("solo-2", [make_run("solo-2", 0, passed=False)])]
    results = make_results(cases)
    verdict = Verdict(outcome=Outcome.PASS, rule="no baseline: nothing to compare", candidate_score=0.6)
    html = render_html(results, verdict, None)
    assert "no baseline" in html and "passed b → c" not in html and "<th class=\"num\">Change</th>" not in html
    statuses = re.findall(r'data-status="([a-z_]+)" data-tags="[^"]*" data-key="([^ "]+)', html)
    assert statuses == [("failing", "solo-2"), ("passing", "solo-1")]  # worst first


def test_write_reports_writes_three_files(tmp_path: Path, bundle: tuple[Results, Baseline, Verdict]) -> None:
    results, baseline, verdict = bundle
    paths = write_reports(tmp_path / "out", results, verdict, baseline)
    assert paths.html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert _junit(paths.junit.read_text(encoding="utf-8")).tag == "testsuites"
    md = paths.markdown.read_text(encoding="utf-8")
    assert md.startswith(MARKER) and str(paths.html) in md


# ---------------------------------------------------------------- helpers


def test_version_bump() -> None:
    assert [version_bump("1.2.3", v) for v in ("2.0.0", "1.3.0", "1.2.4", "1.2.3", "1.2.2", "x")] == [
        "major", "minor", "patch", "same", "downgrade", None,
    ]  # fmt: skip


def test_config_diff_shows_prompt_lines_and_parameter_changes() -> None:
    from agent_eval.baseline.verdict import Verdict as V
    from agent_eval.report._config import config_diff
    from agent_eval.report._sides import candidate_side

    old = make_results([make_case("a", passing("a"))], version="1.2.0")
    new_cfg = old.config.model_copy(
        update={
            "version": "1.2.1",
            "system_prompt": "You are a support agent.\nSound more conversational.",
            "params": {"temperature": 0.7, "top_p": 0.9},
        }
    )
    new = old.model_copy(update={"config": new_cfg})
    diff = config_diff(V(outcome=Outcome.FAIL, rule="", p_value=0.001), candidate_side(old), candidate_side(new))
    assert diff.baseline_known and diff.bump == "patch"
    assert [(d.kind, d.text) for d in diff.system_prompt if d.kind in "+-"] == [
        ("-", SYSTEM),
        ("+", "You are a support agent."),
        ("+", "Sound more conversational."),
    ]
    assert {(c.name, c.baseline, c.candidate) for c in diff.changes} >= {
        ("version", "1.2.0", "1.2.1"),
        ("params.temperature", "0.2", "0.7"),
        ("params.top_p", "(unset)", "0.9"),
    }
    assert any("patch version" in n for n in diff.notes)  # behaviour moved under a patch bump


def test_reports_from_the_real_gate(tmp_path: Path, bundle: tuple[Results, Baseline, Verdict]) -> None:
    from agent_eval.baseline.gate import GateOptions, decide

    results, baseline, _ = bundle
    verdict = decide(results, baseline, GateOptions())
    paths = write_reports(tmp_path, results, verdict, baseline)
    html = paths.html.read_text(encoding="utf-8")
    assert f'class="banner o-{verdict.outcome}"' in html
    ids = re.findall(r'data-key="([^ "]+)', html)
    assert sorted(ids) == sorted({c.id for c in results.cases} | {c.id for c in baseline.cases})
    root = _junit(paths.junit.read_text(encoding="utf-8"))
    assert sum(1 for _ in root.iter("testcase")) == len(results.cases)
    assert paths.markdown.read_text(encoding="utf-8").startswith(MARKER)


# ---------------------------------------------------------------- diffs of outputs


DIFF_JS = Path(__file__).resolve().parent.parent / "agent_eval" / "report" / "templates" / "diff.js"
_NODE_DIFF = """
const fs = require("fs");
const wordDiff = new Function(fs.readFileSync(process.argv[1], "utf8") + "\\nreturn wordDiff;")();
const pairs = JSON.parse(fs.readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(pairs.map(p => wordDiff(p[0], p[1]))));
"""


def _js_word_diff(pairs: list[tuple[str, str]]) -> list[dict[str, list[list[str]]] | None]:
    """Run the report's own diff.js under Node (the browser runs the same file)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the browser tests cover diff.js too")
    done = subprocess.run(
        [node, "-e", _NODE_DIFF, str(DIFF_JS)], input=json.dumps(pairs), capture_output=True, text=True, check=True, timeout=60
    )
    return list(json.loads(done.stdout))


def test_word_diff_in_the_browser_script() -> None:
    pairs = [
        ("the cat sat on the mat", "the dog sat on the mat"),
        ("Your refund of 20 USD was issued today.", "Your refund was denied, sorry."),
        ("", "Brand new text."),
        ("Le café est fermé.", "Le café est ouvert."),
        ("same text", "same text"),
        (" ".join(f"a{i}" for i in range(2100)), " ".join(f"b{i}" for i in range(2100))),  # too many changes
    ]
    cat, refund, empty, cafe, same, huge = _js_word_diff(pairs)
    assert cat == {"old": [["eq", "the "], ["del", "cat "], ["eq", "sat on the mat"]],
                   "new": [["eq", "the "], ["ins", "dog "], ["eq", "sat on the mat"]]}  # fmt: skip
    assert refund is not None
    assert ["del", "of 20 USD "] in refund["old"] and ["ins", "denied, sorry"] in refund["new"]
    assert empty == {"old": [], "new": [["ins", "Brand new text."]]}
    assert cafe is not None and ["del", "fermé"] in cafe["old"] and ["ins", "ouvert"] in cafe["new"]
    assert same == {"old": [["eq", "same text"]], "new": [["eq", "same text"]]}
    assert huge is None


def test_browser_word_diff_keeps_both_texts_whole() -> None:
    import random

    rng = random.Random(3)
    words = ["refund", "order", "the", "a", "is", "not", "issued", ",", ".", "\n", "café", "  "]
    pairs = [(" ".join(rng.choices(words, k=rng.randrange(40))), " ".join(rng.choices(words, k=rng.randrange(40)))) for _ in range(60)]
    for (a, b), diff in zip(pairs, _js_word_diff(pairs), strict=True):
        assert diff is not None
        assert "".join(t for _, t in diff["old"]) == a and "".join(t for _, t in diff["new"]) == b
        assert {op for op, _ in diff["old"]} <= {"eq", "del"} and {op for op, _ in diff["new"]} <= {"eq", "ins"}
        common = [t for op, t in diff["old"] if op == "eq"]
        assert "".join(common) == "".join(t for op, t in diff["new"] if op == "eq")
        # A shortest edit: as many tokens kept as the longest common subsequence has.
        assert sum(len(_TOKEN.findall(t)) for t in common) == _lcs(_TOKEN.findall(a), _TOKEN.findall(b))


_TOKEN = re.compile(r"\w+\s*|[^\w\s]\s*|\s+")  # diff.js's tokens, for ASCII and Latin letters


def _lcs(a: list[str], b: list[str]) -> int:
    row = [0] * (len(b) + 1)
    for x in a:
        prev = 0
        for j, y in enumerate(b):
            prev, row[j + 1] = row[j + 1], prev + 1 if x == y else max(row[j + 1], row[j])
    return row[-1]


def _detail_of(html: str, rows: Sequence[str], case_id: str) -> str:
    return _details(html)[list(rows).index(case_id)]


def test_identical_outputs_are_shown_once_without_a_diff(bundle: tuple[Results, Baseline, Verdict]) -> None:
    results, baseline, verdict = bundle
    html = render_html(results, verdict, baseline)
    detail = _detail_of(html, [d.case_id for d in verdict.cases], "c-plain")
    assert detail.count("Output (identical to the baseline)") == 3
    assert "data-diff" not in detail and "Baseline output" not in detail
    assert detail.count("<pre>Your refund was issued today.</pre>") == 3  # once per run, not twice


def test_a_huge_output_is_shown_without_a_word_diff_and_says_so() -> None:
    long_old = " ".join(f"word{i}" for i in range(2_500))
    long_new = long_old.replace("word7 ", "changed ")
    base = make_results([make_case("big", passing("big", 1, output=long_old)), make_case("small", passing("small", 1))])
    cand = make_results([make_case("big", passing("big", 1, output=long_new)),
                         make_case("small", passing("small", 1, output="Your refund was sent."))])  # fmt: skip
    verdict = Verdict(outcome=Outcome.PASS, rule="r", has_baseline=True, cases=(
        CaseDelta("big", (), CaseStatus.UNCHANGED, False, 1, 1, 1, 1, 0, 1.0, 1.0),
        CaseDelta("small", (), CaseStatus.UNCHANGED, False, 1, 1, 1, 1, 0, 1.0, 1.0),
    ))  # fmt: skip
    html = render_html(cand, verdict, baseline_from_results(base))
    big, small = _details(html)
    assert "Over 2,000 words: shown without a word diff." in big and "data-diff" not in big
    assert long_old in big and long_new in big  # both sides, plain
    assert "data-diff" in small and "without a word diff" not in small


# ---------------------------------------------------------------- cache, judge disagreement, CI link


def _cached_bundle() -> tuple[Results, Verdict]:
    runs = [make_run("c1", 0).model_copy(update={"cached": True}), make_run("c1", 1),
            make_run("c1", 2).model_copy(update={"cached": True})]  # fmt: skip
    results = make_results([make_case("c1", runs), make_case("c2", passing("c2"))])
    return results, Verdict(outcome=Outcome.PASS, rule="no baseline", candidate_score=1.0)


def test_cached_runs_are_counted_and_marked() -> None:
    results, verdict = _cached_bundle()
    assert results.summary.cached_runs == 2
    html = render_html(results, verdict)
    assert "2 of 6 runs came from the cache" in html
    detail = _details(html)[[c.id for c in results.cases].index("c1")]
    assert detail.count(">cached</span>") == 2
    md = render_markdown(results, verdict)
    assert "2 of 6 runs came from the cache" in md


def test_no_cache_line_without_cached_runs(bundle: tuple[Results, Baseline, Verdict]) -> None:
    results, baseline, verdict = bundle
    html = render_html(results, verdict, baseline)
    assert "came from the cache" not in html and ">cached</span>" not in "".join(_details(html))
    assert "came from the cache" not in render_markdown(results, verdict, baseline)


def _sampled_results() -> Results:
    def run(i: int, samples: tuple[float, ...]) -> RunRecord:
        base = make_run("j1", i)
        rubric = base.rubrics[0].model_copy(update={"samples": samples, "score": sum(samples) / len(samples)})
        return base.model_copy(update={"rubrics": (rubric,)})

    return make_results([make_case("j1", [run(0, (3.0, 4.0, 5.0)), run(1, (4.0, 4.0, 4.0)), run(2, (4.5, 4.5))])])


def test_judge_disagreement_and_rubric_samples() -> None:
    results = _sampled_results()
    spread = results.summary.judge_disagreement
    assert spread is not None and spread > 0
    verdict = Verdict(outcome=Outcome.PASS, rule="no baseline", candidate_score=1.0)
    html = render_html(results, verdict)
    row = re.search(r"<tr><td>Judge disagreement \(sample std dev\)</td><td class=\"num\">([^<]+)</td>", html)
    assert row is not None and row.group(1) == f"{spread * 100:.1f}% of scale"
    detail = _details(html)[0]
    assert "(samples 3, 4, 5)" in detail and "(samples 4, 4, 4)" in detail and "(samples 4.5, 4.5)" in detail
    assert "4.00 on 1–5" in detail  # the mean score stays next to its samples
    md = render_markdown(results, verdict)
    assert f"| Judge disagreement (sample std dev) | {spread * 100:.1f}% of scale |" in md


def test_no_judge_disagreement_row_without_samples(bundle: tuple[Results, Baseline, Verdict]) -> None:
    results, baseline, verdict = bundle
    assert results.summary.judge_disagreement is None
    assert "Judge disagreement" not in render_html(results, verdict, baseline)
    assert "Judge disagreement" not in render_markdown(results, verdict, baseline)
    assert "(samples " not in "".join(_details(render_html(results, verdict, baseline)))


def test_ci_run_url() -> None:
    env = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/support-bot", "GITHUB_RUN_ID": "1234567"}
    assert ci_run_url(env) == "https://github.com/acme/support-bot/actions/runs/1234567"
    assert ci_run_url({**env, "GITHUB_SERVER_URL": "https://ghe.example.com/"}) == "https://ghe.example.com/acme/support-bot/actions/runs/1234567"
    for key in env:
        assert ci_run_url({k: v for k, v in env.items() if k != key}) is None, key
    assert ci_run_url({**env, "GITHUB_RUN_ID": "12) [x](y"}) is None  # nothing that could break out of the link
    assert ci_run_url({**env, "GITHUB_REPOSITORY": "acme/bot (fork)"}) is None
    assert ci_run_url({**env, "GITHUB_SERVER_URL": "javascript:alert(1)"}) is None


def test_write_reports_links_the_ci_run(tmp_path: Path, bundle: tuple[Results, Baseline, Verdict]) -> None:
    results, baseline, verdict = bundle
    url = "https://github.com/acme/support-bot/actions/runs/42"
    md = write_reports(tmp_path, results, verdict, baseline, run_url=url).markdown.read_text(encoding="utf-8")
    assert f"artifact from [the workflow run]({url})" in md
    assert "[the workflow run](" not in write_reports(tmp_path / "local", results, verdict, baseline).markdown.read_text(encoding="utf-8")
    # Without an artifact to download, the run is still linked.
    assert f"see [the workflow run]({url})" in render_markdown(results, verdict, baseline, artifact=None, run_url=url)
