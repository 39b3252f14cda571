"""How fast does `agent-eval import` read, redact, deduplicate and sample production logs?

    python benchmarks/import_logs.py [--conversations 100000] [--sample 0.01] [--repeat 3]

Writes synthetic chat JSONL (a quarter of the inputs repeated, some with e-mail addresses and phone numbers)
and the same conversations as one OTLP/JSON document, then runs `python -m agent_eval import` on each as a
whole process, with and without --redact, and prints the best wall time of --repeat runs and the rate.
It measures the checkout it lives in, not an installed agent_eval.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _chat(n: int) -> str:
    lines = []
    for i in range(n):
        q = f"Where is the refund for order {i % (3 * n // 4) + 1000}? Mail me at user{i}@example.com or call 415 555 {i % 10000:04d}"
        lines.append(json.dumps({"messages": [{"role": "system", "content": "You are the billing assistant."},
                                              {"role": "user", "content": q},
                                              {"role": "assistant", "content": "It is pending."}],
                                 "metadata": {"channel": ("web", "mobile", "phone")[i % 3]}}))
    return "\n".join(lines) + "\n"


def _otlp(n: int) -> str:
    def attr(key: str, value: str) -> dict:  # type: ignore[type-arg]
        return {"key": key, "value": {"stringValue": value}}

    spans = []
    for i in range(n):
        messages = json.dumps([{"role": "user", "parts": [{"type": "text", "content": f"Question number {i % (3 * n // 4)}"}]}])
        spans.append({"traceId": f"{i:032x}", "spanId": f"{i:016x}", "name": "invoke_agent",
                      "attributes": [attr("gen_ai.input.messages", messages), attr("app.channel", "web")]})
    return json.dumps({"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": spans}]}]})


def _time(args: list[str], cwd: Path, repeat: int) -> float:
    best = float("inf")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for _ in range(repeat):
        for f in cwd.glob("out*.jsonl"):
            f.unlink()
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "agent_eval", "import", *args], cwd=cwd, env=env, check=True,
                       capture_output=True)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--sample", type=float, default=0.01)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        (folder / "chat.jsonl").write_text(_chat(args.conversations))
        (folder / "otlp.json").write_text(_otlp(args.conversations))
        size = (folder / "chat.jsonl").stat().st_size / 1e6
        print(f"{args.conversations:,} conversations ({size:.0f} MB of chat JSONL), --sample {args.sample}, "
              f"best of {args.repeat}")
        for label, extra in (("chat JSONL", ["chat.jsonl"]), ("chat JSONL --redact", ["chat.jsonl", "--redact"]),
                             ("chat JSONL --stratify", ["chat.jsonl", "--stratify", "metadata.channel"]),
                             ("OTLP/JSON", ["otlp.json"])):
            wall = _time([*extra, "--to", "out.jsonl", "--sample", str(args.sample)], folder, args.repeat)
            print(f"  {label:<24} {wall:6.2f} s   {args.conversations / wall:>9,.0f} conversations/s")


if __name__ == "__main__":
    main()
