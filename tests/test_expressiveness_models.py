"""Checks that call a model (similar, moderation) and several configs in one run, on the mock and
through the real OpenAI SDK against the loopback server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clitools import results, run_cli, write
from loopback import LoopbackServer

MOCK = """\
name: {name}
version: 1.0.0
model:
  provider: mock
  name: mock-2025-01-01
  mock:
    rules:
      - match: ship
        answers: [{{text: "{ship}"}}]
      - match: rude
        answers: [{{text: "{rude}"}}]
prompt:
  user: "{{{{ input }}}}"
"""
CASES = """\
cases:
  - id: ship
    input: when does it ship
    checks:
      - similar: {value: "The order ships on Monday", threshold: 0.6}
        metric: closeness
      - not_similar: {value: "Bananas are a yellow fruit", threshold: 0.3}
  - id: rude
    input: be rude
    checks:
      - moderation: {categories: [violence]}
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _mock_config(folder: Path, name: str, ship: str, rude: str) -> Path:
    return write(folder / f"{name}.yaml", MOCK.format(name=name, ship=ship, rude=rude))


def test_similar_and_moderation_on_the_mock(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _mock_config(folder, "good", "Your order ships on Monday.", "Please be kind.")
    path = write(folder / "suite.yaml", "suite: sem\nconfig: good.yaml\n" + CASES)
    assert run_cli(capsys, "run", path, "--out", "out").code == 0
    checks = {c["id"]: c["runs"][0]["checks"] for c in results(folder / "out")["cases"]}
    similar, unrelated = checks["ship"]
    assert similar["passed"] is True and 0.6 <= similar["score"] <= 1.0 and similar["metric"] == "closeness"
    assert unrelated["passed"] is True and unrelated["score"] >= 0.7  # 1 - similarity to an unrelated text
    assert checks["rude"][0]["passed"] is True
    _mock_config(folder, "bad", "Bananas are yellow.", "I will attack you.")
    # no baseline, and not one run passed: FAIL
    assert run_cli(capsys, "run", path, "--config", "bad.yaml", "--out", "bad").code == 1
    checks = {c["id"]: c["runs"][0]["checks"] for c in results(folder / "bad")["cases"]}
    assert checks["ship"][0]["passed"] is False and checks["ship"][0]["score"] < similar["score"]
    assert checks["ship"][1]["passed"] is False  # the output is now similar to the unrelated text
    assert checks["rude"][0]["passed"] is False and "violence" in checks["rude"][0]["reason"]


LOOP = """\
name: {name}
version: 1.0.0
model:
  provider: openai
  name: loopback-model-2025-01-01
  base_url: {url}
  api_key_env: LOOP_KEY
  timeout_s: 5
prompt:
  system: {system}
  user: "{{{{ input }}}}"
"""


def _loop_config(folder: Path, server: LoopbackServer, name: str, system: str) -> Path:
    return write(folder / f"{name}.yaml", LOOP.format(name=name, url=server.openai_base_url, system=system))


def test_similar_and_moderation_through_the_openai_sdk(folder: Path, capsys: pytest.CaptureFixture[str],
                                                       loopback_server: LoopbackServer,
                                                       clean_provider_env: pytest.MonkeyPatch) -> None:
    clean_provider_env.setenv("LOOP_KEY", "sk-loop-SECRET")
    _loop_config(folder, loopback_server, "loop", "terse")
    path = write(folder / "suite.yaml", """\
suite: sem
config: loop.yaml
cases:
  - id: ship
    input: the order ships on monday
    checks:
      - similar: {value: "echo the order ships monday", threshold: 0.8, model: text-embedding-3-small}
      - not_similar: {value: "bananas are yellow", threshold: 0.3}
  - id: rude
    input: I will attack
    checks:
      - not_moderation: {categories: [violence]}
      - moderation: {categories: [harassment]}
""")
    result = run_cli(capsys, "run", path, "--out", "out")
    assert result.code == 0, result.text
    checks = {c["id"]: c["runs"][0]["checks"] for c in results(folder / "out")["cases"]}
    assert [c["passed"] for c in checks["ship"]] == [True, True], checks["ship"]
    assert [c["passed"] for c in checks["rude"]] == [True, True], checks["rude"]
    paths = [r.path for r in loopback_server.requests]
    assert "/v1/embeddings" in paths and "/v1/moderations" in paths
    embed = json.loads(next(r.body for r in loopback_server.requests if r.path == "/v1/embeddings"))
    assert embed["model"] == "text-embedding-3-small"
    before = len(loopback_server.requests)
    assert run_cli(capsys, "run", path, "--out", "again").code == 0  # completions and embeddings come from the cache
    assert len(loopback_server.requests) == before
    assert "sk-loop-SECRET" not in (folder / "out/results.json").read_text()


def test_a_failing_embeddings_endpoint_errors_the_run(folder: Path, capsys: pytest.CaptureFixture[str],
                                                      loopback_server: LoopbackServer,
                                                      clean_provider_env: pytest.MonkeyPatch) -> None:
    clean_provider_env.setenv("LOOP_KEY", "k")
    _loop_config(folder, loopback_server, "loop", "terse")
    path = write(folder / "suite.yaml", "suite: sem\nconfig: loop.yaml\ncases:\n  - id: a\n    input: hi\n"
                 "    checks: [{similar: {value: hi}}]\n")
    loopback_server.add_faults(200, 400)  # the completion succeeds, the embeddings call is rejected
    result = run_cli(capsys, "run", path, "--out", "out", "--no-cache", "--no-rerun-errors")
    assert result.code == 3, result.text
    [run] = results(folder / "out")["cases"][0]["runs"]
    assert run["status"] == "errored" and run["error"]["kind"] == "provider" and "embed" in run["error"]["message"]


def test_several_configs_one_matrix(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _mock_config(folder, "good", "Your order ships on Monday.", "Please be kind.")
    _mock_config(folder, "bad", "Bananas are yellow.", "I will attack you.")
    path = write(folder / "suite.yaml", "suite: sem\nconfig: good.yaml\nrepeat: 2\n" + CASES)
    refused = run_cli(capsys, "run", path, "-c", "good.yaml", "-c", "bad.yaml", "--save-baseline")
    assert refused.code == 2 and "--save-baseline takes one config" in refused.text
    result = run_cli(capsys, "run", path, "-c", "good.yaml", "-c", "bad.yaml", "--out", "m")
    assert result.code == 1, result.text  # no baseline, and not one run passed: FAIL
    matrix = json.loads((folder / "m/matrix.json").read_text())
    labels = [a["label"] for a in matrix["arms"]]
    assert [label.split("-")[0] for label in labels] == ["good", "bad"]
    for label in labels:
        assert (folder / "m" / label / "results.json").is_file()
        assert results(folder / "m" / label)["seed"] == 0
    good, bad = matrix["arms"]
    assert (good["pass_rate"], bad["pass_rate"]) == (1.0, 0.0) and good["score"] > bad["score"]
    [pair] = matrix["pairs"]
    assert (pair["a"], pair["b"], pair["cases"]) == (labels[0], labels[1], 2)
    assert pair["diff"] == pytest.approx(bad["score"] - good["score"])
    cells = {c["id"]: [cell["runs"][0]["output"] for cell in c["cells"]] for c in matrix["cases"]}
    assert cells["ship"] == ["Your order ships on Monday.", "Bananas are yellow."]
    html = (folder / "m/matrix.html").read_text()
    assert "Bananas are yellow." in html and "Pairwise" in html
    gated = run_cli(capsys, "run", path, "-c", "bad.yaml", "--gate-against", "good.yaml", "--out", "g")
    assert gated.code == 1, gated.text  # bad drops against the live good arm
    assert json.loads((folder / "g/matrix.json").read_text())["reference"] == labels[0]
    schema = run_cli(capsys, "schema", "matrix")
    assert schema.code == 0 and '"PairComparison"' in schema.out


def test_several_configs_through_the_openai_sdk(folder: Path, capsys: pytest.CaptureFixture[str],
                                                loopback_server: LoopbackServer,
                                                clean_provider_env: pytest.MonkeyPatch) -> None:
    clean_provider_env.setenv("LOOP_KEY", "k")
    _loop_config(folder, loopback_server, "a", "terse")
    _loop_config(folder, loopback_server, "b", "verbose")
    path = write(folder / "suite.yaml", "suite: two\nconfig: a.yaml\ncases:\n"
                 + "".join(f"  - id: c{i}\n    input: question {i}\n    checks: [{{contains: echo}}]\n"
                           for i in range(3)))
    result = run_cli(capsys, "run", path, "-c", "a.yaml", "-c", "b.yaml", "--out", "m", "--no-cache")
    assert result.code == 0, result.text
    matrix = json.loads((folder / "m/matrix.json").read_text())
    assert [a["score"] for a in matrix["arms"]] == [1.0, 1.0]
    assert matrix["pairs"][0]["better"] is None
    systems = {json.loads(r.body)["messages"][0]["content"] for r in loopback_server.requests}
    assert systems == {"terse", "verbose"} and len(loopback_server.requests) == 6


def test_similar_on_an_anthropic_candidate_needs_its_own_endpoint(folder: Path, capsys: pytest.CaptureFixture[str],
                                                                  loopback_server: LoopbackServer,
                                                                  clean_provider_env: pytest.MonkeyPatch) -> None:
    clean_provider_env.setenv("LOOP_KEY", "k")
    write(folder / "claude.yaml", f"name: c\nversion: 1.0.0\nmodel:\n  provider: anthropic\n  name: claude-test-2025\n"
          f"  base_url: {loopback_server.anthropic_base_url}\n  api_key_env: LOOP_KEY\nprompt:\n  user: hi\n")
    body = "cases:\n  - id: a\n    input: hi\n    checks: [{any: [{similar: {value: hi, threshold: 0.5}}, {contains: x}]}]\n"
    path = write(folder / "suite.yaml", "suite: sem\nconfig: claude.yaml\n" + body)
    result = run_cli(capsys, "run", path, "--out", "out")
    assert result.code == 2 and "set `similarity_model:` in the suite" in result.text
    write(folder / "suite.yaml", "suite: sem\nconfig: claude.yaml\nsimilarity_model:\n  provider: openai\n"
          f"  name: text-embedding-3-small\n  base_url: {loopback_server.openai_base_url}\n  api_key_env: LOOP_KEY\n"
          + body)
    result = run_cli(capsys, "run", path, "--out", "out2")
    assert result.code == 0, result.text
    assert results(folder / "out2")["cases"][0]["runs"][0]["checks"][0]["passed"] is True
    assert any(r.path == "/v1/embeddings" for r in loopback_server.requests)
