"""Traces on disk and out: runs.jsonl spans, the OTLP/JSON export, its reader, sending to a collector,
baselines of schema version 2 (and version 1 migrated), and the report's timeline."""

from __future__ import annotations

import base64
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from clitools import run_cli, runs_lines

from agent_eval.baseline.store import load_baseline, migrate_v1_to_v2
from agent_eval.trace.otlp import read_otlp_messages

AGENT_SUITE = Path("suites/support-agent.yaml")
BOT_SUITE = Path("suites/support-bot.yaml")
GENAI_NAMES = {"gen_ai.operation.name", "gen_ai.request.model", "gen_ai.usage.input_tokens",
               "gen_ai.usage.output_tokens", "gen_ai.tool.name", "gen_ai.input.messages", "gen_ai.output.messages",
               "gen_ai.tool.call.arguments", "gen_ai.tool.call.result", "gen_ai.provider.name"}


def _spans(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for rs in document["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]


def _attrs(span: dict[str, Any]) -> dict[str, Any]:
    return {a["key"]: next(iter(a["value"].values())) for a in span["attributes"]}


def test_every_run_records_a_trace_and_the_judge_its_own(workdir: Path, capsys) -> None:
    assert run_cli(capsys, "run", BOT_SUITE, "--out", "out").code == 0
    run = runs_lines(workdir / "out")[0]
    assert run["steps"] == 1 and [s["kind"] for s in run["trace"]] == ["model"]
    model = run["trace"][0]["attributes"]
    assert model["gen_ai.request.model"] == "mock-support-2025-01-01"
    assert model["gen_ai.output.messages"][0]["content"] == run["output"]
    judge = run["rubrics"][0]["trace"]
    assert judge and judge[0]["kind"] == "judge" and judge[0]["attributes"]["gen_ai.request.model"] == "mock-judge-2025-01-01"
    html = (workdir / "out/report.html").read_text()
    assert "Timeline: 1 step: 1 model call, 0 tool calls, " in html and "; judge 1 call, " in html


def test_trace_export_is_otlp_json_with_genai_names(workdir: Path, capsys) -> None:
    r = run_cli(capsys, "run", AGENT_SUITE, "--out", "out", "--trace-export", "traces.json")
    assert r.code == 0, r.text
    assert "traces:  traces.json" in r.err
    document = json.loads((workdir / "traces.json").read_text())
    spans = _spans(document)
    resource = {a["key"]: a["value"]["stringValue"] for a in document["resourceSpans"][0]["resource"]["attributes"]}
    assert resource["service.name"] == "agent-eval" and resource["agent_eval.suite"] == "support-agent"
    seen = set().union(*(_attrs(s) for s in spans))
    assert GENAI_NAMES <= seen
    by_id = {(s["traceId"], s["spanId"]): s for s in spans}
    assert len(by_id) == len(spans)  # ids are unique
    for span in spans:
        assert re.fullmatch(r"[0-9a-f]{32}", span["traceId"]) and re.fullmatch(r"[0-9a-f]{16}", span["spanId"])
        assert int(span["startTimeUnixNano"]) <= int(span["endTimeUnixNano"])
        assert int(span["startTimeUnixNano"]) > 1_600_000_000 * 10**9
        if "parentSpanId" in span:
            parent = by_id[(span["traceId"], span["parentSpanId"])]
            assert int(parent["startTimeUnixNano"]) <= int(span["startTimeUnixNano"])
    roots = [s for s in spans if "parentSpanId" not in s]
    runs = [s for s in roots if s["name"].startswith("invoke_agent ")]
    assert len(runs) == 18  # 6 cases x k=3, one trace each
    tools = [s for s in spans if _attrs(s)["gen_ai.operation.name"] == "execute_tool"]
    lookup = next(s for s in tools if _attrs(s)["gen_ai.tool.name"] == "lookup_order")
    assert json.loads(_attrs(lookup)["gen_ai.tool.call.arguments"])["order_id"]
    chat = next(s for s in spans if _attrs(s)["gen_ai.operation.name"] == "chat")
    assert chat["kind"] == 3 and int(_attrs(chat)["gen_ai.usage.input_tokens"]) > 0
    message = json.loads(_attrs(chat)["gen_ai.input.messages"])[0]
    assert message["role"] == "system" and message["parts"][0]["type"] == "text"
    failed = next(s for s in tools if s.get("status", {}).get("code") == 2)
    assert failed["status"]["message"] == "order 9999 not found"


def test_the_export_parses_with_the_official_otlp_protobuf_schema(workdir: Path, capsys) -> None:
    pytest.importorskip("opentelemetry.proto", reason="opentelemetry-proto is not installed (pip install 'agent-eval-gate[otel]')")
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    assert run_cli(capsys, "run", AGENT_SUITE, "--out", "out", "--trace-export", "traces.json").code == 0
    document = json.loads((workdir / "traces.json").read_text())
    for span in _spans(document):  # OTLP/JSON writes ids in hex where the protobuf JSON mapping wants base64
        for key in ("traceId", "spanId", "parentSpanId"):
            if key in span:
                span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
    request = json_format.ParseDict(document, ExportTraceServiceRequest())
    spans = request.resource_spans[0].scope_spans[0].spans
    assert len(spans) == len(_spans(document)) and len(spans[0].trace_id) == 16


def test_read_otlp_messages_round_trips_the_runs_messages(workdir: Path, capsys) -> None:
    assert run_cli(capsys, "run", AGENT_SUITE, "--out", "out", "--trace-export", "traces.json").code == 0
    calls = read_otlp_messages(workdir / "traces.json")
    runs = {(r["case_id"], r["index"]): r for r in runs_lines(workdir / "out")}
    whole = [c for c in calls if c.case_id == "cancel-and-refund-4321" and c.operation == "invoke_agent"]
    refund = [c for c in calls if c.case_id == "cancel-and-refund-4321" and c.operation == "chat"]
    assert len(whole) == 3 and len(refund) == 9  # each of 3 runs, and its 3 model calls (steps)
    last = refund[2]
    run = runs[("cancel-and-refund-4321", 0)]
    # the run as one conversation: the messages the agent was given, and its final answer
    assert [m["role"] for m in whole[0].input_messages] == ["system", "user"]
    assert whole[0].input_messages[1]["content"] == "Cancel order 4321 and refund me, please."
    assert whole[0].output_messages == ({"role": "assistant", "content": run["output"]},)
    sent = [{k: v for k, v in m.items() if k in ("role", "content")} for m in run["messages"]]
    assert [{k: v for k, v in m.items() if k in ("role", "content")} for m in last.input_messages] == sent
    assert last.output_messages == ({"role": "assistant", "content": run["output"]},)
    asked = refund[0].output_messages[0]["tool_calls"][0]
    assert asked["name"] == "lookup_order" and json.loads(asked["arguments"]) == {"order_id": "4321"}
    tool_reply = next(m for m in last.input_messages if m["role"] == "tool")
    assert tool_reply["tool_call_id"] and "4321" in tool_reply["content"]
    assert last.model == "mock-support-agent-2025-03-01"


def test_redact_and_secrets_apply_to_the_export(workdir: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "tok-5f3a9c1e77"
    monkeypatch.setenv("SUPPORT_TOKEN", secret)
    config = workdir / "suites/configs/support-agent.yaml"
    config.write_text("# the agent's service token: ${SUPPORT_TOKEN}\n" + config.read_text())
    suite = workdir / AGENT_SUITE
    suite.write_text(suite.read_text().replace('input: "Where is the refund for order 9999?"',
                                               f'input: "Where is the refund for order 9999? My token is {secret}"'))
    assert run_cli(capsys, "run", AGENT_SUITE, "--out", "plain", "--trace-export", "plain.json").code in (0, 1)
    text = (workdir / "plain.json").read_text()
    assert secret not in text and "My token is ***" in text
    assert run_cli(capsys, "run", AGENT_SUITE, "--out", "red", "--redact", "--trace-export", "red.json").code in (0, 1)
    calls = read_otlp_messages(workdir / "red.json")
    assert calls and all(m["content"] in ("", "[redacted]") for c in calls for m in c.input_messages)
    spans = _spans(json.loads((workdir / "red.json").read_text()))
    tools = [_attrs(s) for s in spans if _attrs(s)["gen_ai.operation.name"] == "execute_tool"]
    assert tools and all(t["gen_ai.tool.call.arguments"] == "[redacted]" for t in tools)
    assert "Where is the refund" not in (workdir / "red.json").read_text()


class _Collector(BaseHTTPRequestHandler):
    bodies: ClassVar[list[tuple[str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).bodies.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


def test_spans_are_sent_to_an_otlp_collector_through_the_sdk(workdir: Path, capsys,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http.trace_exporter",
                        reason="the otel extra is not installed (pip install 'agent-eval-gate[otel]')")
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    _Collector.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
        r = run_cli(capsys, "run", AGENT_SUITE, "--out", "out", "--trace-export", "traces.json")
    finally:
        server.shutdown()
        server.server_close()
    assert r.code == 0, r.text
    assert "traces sent to http://127.0.0.1:" in r.err
    assert _Collector.bodies and all(path == "/v1/traces" for path, _ in _Collector.bodies)
    received = []
    for _, body in _Collector.bodies:
        request = ExportTraceServiceRequest.FromString(body)
        received += [s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]
    exported = _spans(json.loads((workdir / "traces.json").read_text()))
    assert len(received) == len(exported)
    assert {s.span_id.hex() for s in received} == {s["spanId"] for s in exported}
    names = {a.key for s in received for a in s.attributes}
    assert {"gen_ai.operation.name", "gen_ai.request.model", "gen_ai.tool.name", "gen_ai.input.messages"} <= names


def test_without_a_collector_nothing_is_sent(workdir: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    r = run_cli(capsys, "run", BOT_SUITE, "--out", "out", "--trace-export", "t.json")
    assert r.code == 0 and "traces sent" not in r.err and (workdir / "t.json").is_file()
    spans = _spans(json.loads((workdir / "t.json").read_text()))
    runs = {s["traceId"]: s for s in spans if s["name"].startswith("invoke_agent ")}
    judges = [s for s in spans if s["name"].startswith("judge ")]
    assert len(runs) == 100 and len(judges) == 5  # one case has a rubric, k=5
    for judge in judges:  # a trace of its own, linked to its run's, after the run's calls
        run = runs[_attrs(judge)["agent_eval.judge_for"]]
        assert judge["traceId"] != run["traceId"] and "parentSpanId" not in judge
        assert int(judge["startTimeUnixNano"]) >= int(run["endTimeUnixNano"])


def _as_v1(data: dict[str, Any]) -> dict[str, Any]:
    new = {"steps", "tool_calls", "failure_kind", "escalation", "metrics", "assistant_turns"}
    cases = [{**c, "runs": [{k: v for k, v in r.items() if k not in new} for r in c["runs"]]} for c in data["cases"]]
    return {**data, "cases": cases, "schema_version": 1}


def test_version_1_baselines_are_migrated_in_memory(workdir: Path, capsys) -> None:
    path = workdir / "golden/baselines/support-bot.json"
    current = json.loads(path.read_text())
    assert current["schema_version"] == 2
    v1 = _as_v1(current)
    migrated = migrate_v1_to_v2(v1)
    assert migrated["schema_version"] == 2 and v1["schema_version"] == 1  # the input is not changed
    run = migrated["cases"][0]["runs"][0]
    assert run["steps"] == 1 and run["tool_calls"] == [] and run["failure_kind"] is None
    path.write_text(json.dumps(v1))
    baseline = load_baseline(path)
    assert baseline.schema_version == 3 and baseline.cases[0].runs[0].steps == 1
    assert json.loads(path.read_text())["schema_version"] == 1  # read, not rewritten
    assert run_cli(capsys, "run", BOT_SUITE, "--out", "good").code == 0
    assert run_cli(capsys, "run", BOT_SUITE, "--config", "suites/configs/support-regressed.yaml", "--out", "bad").code == 1


def test_baselines_keep_the_trajectory(workdir: Path) -> None:
    baseline = load_baseline(workdir / "golden/baselines/support-agent.json")
    case = baseline.case("cancel-and-refund-4321")
    assert case is not None
    run = case.runs[0]
    assert run.steps == 3 and [c.name for c in run.tool_calls] == ["lookup_order", "refund_order"]
    assert run.tool_calls[1].step == 1 and run.tool_calls[1].result["refund_id"] == "R4321"


def test_report_shows_a_timeline_and_the_trajectory_beside_the_baseline(workdir: Path, capsys) -> None:
    suite = workdir / AGENT_SUITE
    suite.write_text(suite.read_text().replace('result: {order_id: "1234", status: shipped, refund_status: pending}',
                                               'result: {order_id: "1234", status: shipped, refund_status: pending, '
                                               'note: "<script>alert(1)</script>"}'))
    r = run_cli(capsys, "run", AGENT_SUITE, "--config", "suites/configs/support-agent-regressed.yaml", "--out", "out")
    assert r.code in (0, 1), r.text  # the edited case is not gated (its definition changed)
    html = (workdir / "out/report.html").read_text()
    assert re.search(r"Steps per run \(mean\)</td><td class=\"num\">2\.00</td><td class=\"num\">1\.\d\d</td>", html)
    assert "| Steps per run (mean) | 2.00 |" in (workdir / "out/summary.md").read_text()
    block = re.search(r'<script type="application/json" id="case-details">(.*?)</script>', html, flags=re.DOTALL)
    assert block is not None
    details = json.loads(block.group(1))
    assert "<script>alert" not in html and not any("<script>alert" in d for d in details)
    refund = next(d for d in details if "Cancel order 4321" in d)
    assert "Timeline: 3 steps: 3 model calls, 2 tool calls" in refund and "baseline 3 steps" in refund
    assert 'class="mini trajectory"' in refund and "Baseline tool calls" in refund
    assert re.search(r"lookup_order\(\{(&#34;|&quot;)order_id(&#34;|&quot;): (&#34;|&quot;)4321", refund)
    assert "execute_tool refund_order" in refund and '<li class="sp-tool" style="padding-left:1em"><b>tool</b>' in refund
    unknown = next(d for d in details if "order 9999?" in d)
    # the regressed agent skipped the lookup: that step of the trajectory is marked as changed
    assert '<tr class="changed">' in unknown and "✗ order 9999 not found</pre></td><td><pre>—" in unknown
    assert "; judge " not in refund  # no rubric, no judge calls


def test_invalid_unicode_never_breaks_the_export(tmp_path: Path) -> None:
    from agent_eval.trace.otlp import write_otlp

    write_otlp(tmp_path / "t.json", {"resourceSpans": [], "note": "half an emoji: \ud83d"})
    assert json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))["note"] == "half an emoji: \ufffd"


def test_redact_masks_the_timeline(workdir: Path, capsys) -> None:
    assert run_cli(capsys, "run", AGENT_SUITE, "--out", "out", "--redact").code == 0
    html = (workdir / "out/report.html").read_text()
    assert "Timeline: 3 steps" in html and "refund_order([redacted])" in html
    assert "R4321" not in html and "order 9999 not found" not in html and "4321&#34;" not in html


def test_several_suites_export_into_one_file(workdir: Path, capsys) -> None:
    (workdir / "suites" / "support-conversations.yaml").unlink()  # no refund-status* case: the filter would refuse it
    r = run_cli(capsys, "run", "suites", "--out", "all", "--trace-export", "all.json", "--filter", "refund-status*")
    assert r.code == 0, r.text
    document = json.loads((workdir / "all.json").read_text())
    suites = sorted(a["value"]["stringValue"] for rs in document["resourceSpans"] for a in rs["resource"]["attributes"]
                    if a["key"] == "agent_eval.suite")
    assert suites == ["support-agent", "support-bot"]
