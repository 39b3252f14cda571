"""Issues 22 and 23 together: editing a file that cases read redefines exactly those cases; the gate does not let
them pass unnoticed (route "unpaired cases"), and `baseline update --cases` re-records them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from clitools import REPO, run_cli

SUITE = """\
suite: shared-file
config: support-good.yaml
repeat: 2
cases:
  - id: reads-policy
    input: "Where is the refund for order 1234? Policy: {{ policy }}"
    vars: {policy: "file:docs/policy.md"}
    checks: [{contains: "1234"}]
  - id: plain
    input: "Where is the refund for order 5678?"
    checks: [{contains: "5678"}]
"""


def test_editing_a_shared_file_redefines_the_cases_that_read_it_until_re_recorded(tmp_path: Path, capsys,
                                                                                   monkeypatch) -> None:
    shutil.copy(REPO / "suites/configs/support-good.yaml", tmp_path / "support-good.yaml")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs/policy.md").write_text("Refunds within 30 days.\n")
    (tmp_path / "suite.yaml").write_text(SUITE)
    (tmp_path / "golden/baselines").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert run_cli(capsys, "run", "suite.yaml", "--out", "first", "--save-baseline").code == 0
    assert run_cli(capsys, "run", "suite.yaml", "--out", "same").code == 0

    (tmp_path / "docs/policy.md").write_text("Refunds within 14 days.\n")
    r = run_cli(capsys, "run", "suite.yaml", "--out", "edited", "--format", "json")
    assert r.code == 1, r.text
    verdict = json.loads(r.out)["suites"][0]
    assert verdict["outcome"] == "FAIL" and "unpaired cases" in verdict["rule"] and "reads-policy" in verdict["rule"]
    assert "plain" not in verdict["rule"]

    r = run_cli(capsys, "baseline", "update", "edited", "--cases", "reads-policy")
    assert r.code == 0, r.text
    assert run_cli(capsys, "run", "suite.yaml", "--out", "after").code == 0
