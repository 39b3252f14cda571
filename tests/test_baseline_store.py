"""Saving and loading baselines and results: atomic, stable bytes, version checks, clear errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from test_gate import C, results

from agent_eval.baseline.schema import Baseline, baseline_from_results
from agent_eval.baseline.store import (
    default_baseline_path,
    dump_json,
    load_baseline,
    load_results,
    save_baseline,
    upgrade,
)
from agent_eval.errors import InputError, UsageError

CASES = [C("b", [1.0, 0.5], tags=("x",)), C("a", [None, 1.0], critical=True)]


def test_round_trip_is_sorted_stable_and_newline_terminated(tmp_path: Path) -> None:
    path = default_baseline_path("support", tmp_path)
    assert path == tmp_path / "golden" / "baselines" / "support.json"
    saved = save_baseline(results(CASES), path)
    first = path.read_bytes()
    assert load_baseline(path) == saved == baseline_from_results(results(CASES))
    save_baseline(results(CASES), path)
    assert path.read_bytes() == first
    assert first.endswith(b"}\n") and b'\n  "cases": [\n' in first
    data = json.loads(first)
    assert list(data) == sorted(data) and list(data["provenance"]) == sorted(data["provenance"])
    assert [c["id"] for c in data["cases"]] == ["a", "b"]
    assert data["cases"][0]["runs"][0] == {"index": 0, "output": "", "passed": False, "score": None, "status": "errored",
                                           "latency_ms": None, "cost_usd": None, "error_kind": "provider",
                                           "steps": None, "tool_calls": [], "failure_kind": None, "escalation": None,
                                           "metrics": {}, "assistant_turns": None, "refused": None}
    assert data["provenance"]["judge_model"] == "judge-1" and data["provenance"]["repeat"] == 2
    assert [p.name for p in path.parent.iterdir()] == ["support.json"]  # no temporary file left
    assert path.stat().st_mode & 0o777 == 0o644


def test_a_failed_replace_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "b.json"
    (target / "keep").mkdir(parents=True)  # os.replace cannot put a file over a non-empty folder
    with pytest.raises(OSError):
        save_baseline(results(CASES), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.json"] and (target / "keep").is_dir()


def test_incomplete_runs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"incomplete run as the baseline \(interrupted\)"):
        save_baseline(results(CASES, complete=False), tmp_path / "b.json")
    assert not (tmp_path / "b.json").exists()


def test_newer_schema_is_refused_before_validation(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"schema_version": 4, "something": "unknown"}))
    with pytest.raises(InputError) as err:
        load_baseline(path)
    assert str(err.value) == (
        f"{path}: schema_version: baseline schema_version 4 is newer than this agent-eval supports (3); "
        "upgrade agent-eval"
    )


def test_older_versions_go_through_the_migration_chain() -> None:
    def v0_to_v1(d: dict[str, object]) -> dict[str, object]:
        return {**{k: v for k, v in d.items() if k != "meta"}, "provenance": d["meta"]}

    v1 = {**json.loads(dump_json(baseline_from_results(results(CASES)))), "schema_version": 1}
    v0 = {**{k: v for k, v in v1.items() if k != "provenance"}, "meta": v1["provenance"], "schema_version": 0}
    migrated = upgrade(v0, current=1, migrations={0: v0_to_v1}, path="b.json", what="baseline")
    assert Baseline.model_validate(migrated) == Baseline.model_validate(v1)
    with pytest.raises(InputError, match="baseline schema_version 0 is too old to read"):
        upgrade(v0, current=1, migrations={}, path="b.json", what="baseline")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{\n  \"schema_version\": 2,\n  oops\n}", r"b\.json:3: invalid JSON: Expecting property name"),
        ("[1, 2]", r"b\.json: expected a JSON object, got list"),
        ('{"schema_version": "1"}', r"b\.json: schema_version: schema_version must be an integer, got '1'"),
        ('{"schema_version": 2, "provenance": {}, "cases": []}', r"b\.json: provenance\.suite_name: Field required"),
    ],
)
def test_bad_files_name_the_path_line_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "b.json"
    path.write_text(text)
    with pytest.raises(InputError, match=expected) as err:
        load_baseline(path)
    assert err.value.path == str(path)


def test_unknown_field_is_named(tmp_path: Path) -> None:
    data = json.loads(dump_json(baseline_from_results(results(CASES))))
    data["cases"][1]["runs"][0]["sccore"] = 1
    path = tmp_path / "b.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"cases\.1\.runs\.0\.sccore: Extra inputs are not permitted"):
        load_baseline(path)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nope.json: file not found"):
        load_baseline(tmp_path / "nope.json")


def test_load_results_from_file_or_folder(tmp_path: Path) -> None:
    res = results(CASES)
    (tmp_path / "results.json").write_text(dump_json(res))
    assert load_results(tmp_path) == res == load_results(tmp_path / "results.json")
    (tmp_path / "results.json").write_text(json.dumps({**json.loads(dump_json(res)), "schema_version": 9}))
    with pytest.raises(InputError, match="results schema_version 9 is newer"):
        load_results(tmp_path)
