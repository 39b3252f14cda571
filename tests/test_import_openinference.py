"""`agent-eval import` of OpenInference traces as Phoenix writes them (`llm.input_messages.N.message.*`,
`input.value`/`output.value`), LLM spans without a parent span, and parts it cannot keep (counted, not dropped
silently)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from clitools import REPO, run_cli, write

OPENINFERENCE = REPO / "suites" / "logs" / "production-openinference.json"


def _cases(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _by_question(path: Path) -> dict[str, dict[str, Any]]:
    return {c["input"][-1]["content"]: c for c in _cases(path)}


def test_phoenix_traces_become_cases_one_per_conversation(workdir: Path, capsys) -> None:
    result = run_cli(capsys, "import", OPENINFERENCE, "--to", "golden/prod.jsonl", "--stratify", "app.channel")
    assert result.code == 0, result.text
    assert "read 4 conversation(s)" in result.out and "wrote 4 new case(s)" in result.out
    cases = _by_question(workdir / "golden/prod.jsonl")
    # an AGENT span's input.value/output.value; its child LLM span is part of it
    refund = cases["What is your refund window?"]
    assert refund["input"] == [{"role": "user", "content": "What is your refund window?"}]
    assert refund["metadata"]["production_output"] == "You can ask for a refund within 30 days of delivery."
    # two LLM spans of one trace without a parent span: one conversation, the answer of the last call
    order = cases["Where is order 8812?"]
    assert order["input"] == [{"role": "user", "content": "Where is order 8812?"}]  # no system, tool or call
    assert order["metadata"]["production_output"] == "Order 8812 shipped on Monday."
    # a CHAIN span whose input and output are JSON (LangChain message dicts)
    canada = cases["Do you ship to Canada?"]
    assert canada["metadata"]["production_output"] == "Yes, we ship to Canada in 5 to 8 business days."
    assert {c["metadata"]["stratum"] for c in cases.values()} == {"web", "mobile"}
    # the screenshot the user sent is counted, never silently gone
    vision = cases["What does the error on this screenshot mean?"]
    assert vision["metadata"]["parts_not_kept"] == {"image": 1}
    assert "1 image part(s) not kept" in result.out
    assert all("parts_not_kept" not in c["metadata"] for q, c in cases.items() if "screenshot" not in q)


def test_flat_message_attributes_of_a_multi_turn_llm_span(workdir: Path, capsys) -> None:
    def attr(key: str, value: str) -> dict[str, Any]:
        return {"key": key, "value": {"stringValue": value}}

    turns = [("system", "Be brief."), ("user", "Hi, I need a new password."), ("assistant", "Open Settings."),
             ("user", "And then?")]
    attributes = [attr("openinference.span.kind", "LLM")]
    for n, (role, text) in enumerate(turns):
        attributes += [attr(f"llm.input_messages.{n}.message.role", role)]
        if role == "user" and n == 3:  # content parts instead of content, with an audio clip
            attributes += [attr(f"llm.input_messages.{n}.message.contents.0.message_content.type", "text"),
                           attr(f"llm.input_messages.{n}.message.contents.0.message_content.text", text),
                           attr(f"llm.input_messages.{n}.message.contents.1.message_content.type", "audio")]
        else:
            attributes += [attr(f"llm.input_messages.{n}.message.content", text)]
    attributes += [attr("llm.output_messages.0.message.role", "assistant"),
                   attr("llm.output_messages.0.message.content", "Choose Security > Reset.")]
    span = {"traceId": "ab" * 16, "spanId": "cd" * 8, "name": "llm", "attributes": attributes}
    log = write(workdir / "phoenix.json", json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}))
    result = run_cli(capsys, "import", log, "--to", "golden/p.jsonl")
    assert result.code == 0, result.text
    (case,) = _cases(workdir / "golden/p.jsonl")
    assert case["input"] == [{"role": "user", "content": "Hi, I need a new password."},
                             {"role": "assistant", "content": "Open Settings."},
                             {"role": "user", "content": "And then?"}]
    assert case["metadata"]["production_output"] == "Choose Security > Reset."
    assert case["metadata"]["parts_not_kept"] == {"audio": 1} and "1 audio part(s) not kept" in result.out


def test_chat_logs_count_images_and_audio_they_cannot_keep(workdir: Path, capsys) -> None:
    rows = [
        {"messages": [{"role": "user", "content": [
            {"type": "text", "text": "Is this the right cable?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/b.png"}}]},
            {"role": "assistant", "content": "Yes, that is USB-C."}]},
        {"messages": [{"role": "user", "content": [
            {"type": "text", "text": "Transcribe my note"},
            {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}]},
        {"messages": [{"role": "user", "content": "Plain text only"}]},
    ]
    log = write(workdir / "chat.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    result = run_cli(capsys, "import", log, "--to", "golden/c.jsonl")
    assert result.code == 0, result.text
    assert "1 audio part(s), 2 image part(s) not kept" in result.out
    cases = _by_question(workdir / "golden/c.jsonl")
    assert cases["Is this the right cable?"]["metadata"]["parts_not_kept"] == {"image": 2}
    assert cases["Transcribe my note"]["metadata"]["parts_not_kept"] == {"audio": 1}
    assert "parts_not_kept" not in cases["Plain text only"]["metadata"]
    again = run_cli(capsys, "import", log, "--to", "golden/c.jsonl")
    assert "not kept" not in again.out  # nothing written, nothing lost
