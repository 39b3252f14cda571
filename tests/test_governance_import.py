"""`agent-eval import`: production logs (chat JSONL and OTLP/JSON) to golden cases tagged needs-review."""

from __future__ import annotations

import json
from pathlib import Path

from clitools import REPO, run_cli, write

CHAT = REPO / "suites" / "logs" / "production-chat.jsonl"
OTLP = REPO / "suites" / "logs" / "production-otlp.json"


def _cases(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_chat_logs_become_deduplicated_cases_without_system_messages(workdir: Path, capsys) -> None:
    result = run_cli(capsys, "import", CHAT, "--to", "golden/prod.jsonl")
    assert result.code == 0, result.text
    cases = _cases(workdir / "golden/prod.jsonl")
    # 8 lines: one has no user message, two differ only in case and spacing
    assert "read 8 conversation(s) (1 without a user message skipped), 6 unique inputs" in result.out
    assert len(cases) == 6
    first = cases[0]
    assert first["input"] == [{"role": "user", "content": "Where is the refund for order 8812?"}]
    assert first["metadata"]["production_output"] == "The refund for 8812 is pending."
    assert first["tags"][0] == "needs-review" and first["id"].startswith("prod-")
    late_fee = next(c for c in cases if len(c["input"]) == 3)
    assert [m["role"] for m in late_fee["input"]] == ["user", "assistant", "user"]
    logged_call = next(c for c in cases if "billing address" in c["input"][0]["content"])
    assert logged_call["metadata"]["production_output"] == "Open Billing > Address."


def test_otlp_traces_read_the_topmost_genai_span_of_each_trace(workdir: Path, capsys) -> None:
    result = run_cli(capsys, "import", OTLP, "--to", "golden/prod.jsonl", "--stratify", "app.channel")
    assert result.code == 0, result.text
    cases = _cases(workdir / "golden/prod.jsonl")
    assert len(cases) == 3  # the nested chat spans repeat their parent's conversation
    assert {c["input"][0]["content"] for c in cases} >= {"When is support open?"}
    assert all(c["input"][0]["role"] == "user" for c in cases)  # the model span's system message is not there
    assert {c["metadata"]["stratum"] for c in cases} == {"mobile", "web"}
    invoice = next(c for c in cases if "invoice" in c["input"][0]["content"])
    assert invoice["metadata"]["production_output"] == "Yes: open Billing > Invoices and download the PDF."


def test_sampling_is_deterministic_and_importing_again_adds_nothing(workdir: Path, capsys) -> None:
    logs = workdir / "many.jsonl"
    write(logs, "".join(json.dumps({"messages": [{"role": "user", "content": f"question {i}"}],
                                    "channel": "rare" if i == 7 else "common"}) + "\n" for i in range(400)))
    first = run_cli(capsys, "import", logs, "--to", "golden/a.jsonl", "--sample", "0.1")
    again = run_cli(capsys, "import", logs, "--to", "golden/b.jsonl", "--sample", "0.1")
    assert first.code == again.code == 0
    a, b = _cases(workdir / "golden/a.jsonl"), _cases(workdir / "golden/b.jsonl")
    assert a == b and 20 <= len(a) <= 60  # about 40 of 400
    repeat = run_cli(capsys, "import", logs, "--to", "golden/a.jsonl", "--sample", "0.1")
    assert f"{len(a)} already in golden/a.jsonl" in repeat.out and "wrote 0 new case(s)" in repeat.out
    assert len(_cases(workdir / "golden/a.jsonl")) == len(a)
    wider = run_cli(capsys, "import", logs, "--to", "golden/c.jsonl", "--sample", "0.2")
    assert wider.code == 0
    assert {c["id"] for c in a} <= {c["id"] for c in _cases(workdir / "golden/c.jsonl")}  # same input, same decision
    strat = run_cli(capsys, "import", logs, "--to", "golden/d.jsonl", "--sample", "0.001", "--stratify", "channel")
    assert "channel=rare: 1" in strat.out
    assert any(c["input"][0]["content"] == "question 7" for c in _cases(workdir / "golden/d.jsonl"))


def test_redaction_masks_emails_phones_and_card_numbers(workdir: Path, capsys) -> None:
    assert run_cli(capsys, "import", CHAT, OTLP, "--to", "golden/prod.jsonl", "--redact").code == 0
    text = (workdir / "golden/prod.jsonl").read_text()
    for secret in ("jane.doe@example.com", "4111 1111 1111 1111", "415 555 2671", "sam@example.org"):
        assert secret not in text
    assert "[EMAIL]" in text and "[CARD]" in text and "[PHONE]" in text
    assert "order 8812" in text  # order numbers are not phone numbers


def test_needs_review_cases_are_reported_but_never_gated(workdir: Path, capsys) -> None:
    assert run_cli(capsys, "import", CHAT, "--to", "golden/prod.jsonl").code == 0
    suite = workdir / "suites/support-bot.yaml"
    suite.write_text(suite.read_text().replace("cases_from: ../golden/support.jsonl",
                                               "cases_from: [../golden/support.jsonl, ../golden/prod.jsonl]"))
    result = run_cli(capsys, "run", suite, "--out", "out")
    assert result.code == 0, result.text
    assert "6 case(s) tagged needs-review have no checks or rubrics yet: not run and not gated" in result.err
    ran = json.loads((workdir / "out/results.json").read_text())
    assert not any(c["id"].startswith("prod-") for c in ran["cases"])
    assert len(ran["ungated"]) == 6 and all(i.startswith("prod-") for i in ran["ungated"])
    assert "**Not gated:** 6 case(s) tagged `needs-review`" in (workdir / "out/summary.md").read_text()
    assert ran["ungated"][0] in (workdir / "out/report.html").read_text()
    # a reviewed case (a check added, the tag kept) is run and gated
    cases = _cases(workdir / "golden/prod.jsonl")
    cases[0]["checks"] = [{"contains": "8812"}]
    (workdir / "golden/prod.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases))
    again = run_cli(capsys, "run", suite, "--out", "out2")
    assert "5 case(s) tagged needs-review" in again.err
    ran = json.loads((workdir / "out2/results.json").read_text())
    assert cases[0]["id"] in {c["id"] for c in ran["cases"]}


def test_a_malformed_log_line_names_file_and_line(workdir: Path, capsys) -> None:
    bad = write(workdir / "bad.jsonl", '{"messages": [{"role": "user", "content": "hi"}]}\n{not json\n')
    result = run_cli(capsys, "import", bad, "--to", "golden/x.jsonl")
    assert result.code == 2 and "bad.jsonl:2" in result.err and "Traceback" not in result.text
    other = write(workdir / "other.jsonl", '{"prompt": "hi"}\n')
    result = run_cli(capsys, "import", other, "--to", "golden/x.jsonl")
    assert result.code == 2 and "other.jsonl:1" in result.err and "messages" in result.err


def test_a_conversation_already_in_the_file_as_a_hand_written_case_is_not_added(workdir: Path, capsys) -> None:
    write(workdir / "golden/mixed.jsonl", json.dumps({"id": "gbp", "input": "do you accept  GBP?",
                                                      "checks": [{"contains": "GBP"}]}) + "\n")
    result = run_cli(capsys, "import", CHAT, "--to", "golden/mixed.jsonl")
    assert result.code == 0 and "1 already in golden/mixed.jsonl" in result.out
    assert not any("GBP" in c["input"][0]["content"] for c in _cases(workdir / "golden/mixed.jsonl")[1:])
