"""Multimodal inputs (issue 23): images, PDFs and audio in case messages, chat JSONL rows and `file:` vars, sent as
content parts on both wires (through the official SDKs to the loopback server), offline on the mock, refused before
any call where the provider takes none of that kind, and shown in the HTML report."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
from clitools import REPO, results, run_cli, write
from loopback import LoopbackServer

EXAMPLE = REPO / "suites" / "examples" / "multimodal"


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(EXAMPLE, tmp_path / "mm")
    return tmp_path


def test_the_shipped_example_passes_on_the_mock_and_the_report_shows_the_parts(
        folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "run", folder / "mm" / "suite.yaml", "--out", "out", "--no-cache")
    assert result.code == 0, result.text
    runs = {c["id"]: c["runs"][0] for c in results(folder / "out")["cases"]}
    assert set(runs) == {"receipt-total", "chart-trend", "terms-pdf", "chat-photo"}
    receipt = runs["receipt-total"]["messages"][0]["parts"][0]
    assert receipt["type"] == "image" and receipt["media_type"] == "image/png"
    assert base64.b64decode(receipt["data"]) == (EXAMPLE / "images" / "receipt.png").read_bytes()
    assert runs["terms-pdf"]["messages"][0]["parts"][0]["type"] == "pdf"
    html = (folder / "out" / "report.html").read_text().replace('\\"', '"').replace('<\\/', '</')  # in a JSON string
    assert '<img class="part" src="data:image/png;base64,' in html  # a thumbnail (the CSP allows data: images)
    assert '<span class="part">[pdf: images/terms.pdf]</span>' in html  # a PDF is a label


def _config(folder: Path, server: LoopbackServer, provider: str) -> Path:
    url = server.openai_base_url if provider == "openai" else server.anthropic_base_url
    return write(folder / f"{provider}.yaml", f"name: w\nversion: 1.0.0\nmodel:\n  provider: {provider}\n"
                 f"  name: loop-2025-01-01\n  base_url: {url}\n  api_key_env: LOOP_KEY\n"
                 "  params: {max_tokens: 50}\n")


def _bodies(server: LoopbackServer) -> list[dict]:  # type: ignore[type-arg]
    return [r.json for r in server.requests if r.json and "messages" in r.json]


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_parts_go_out_on_the_wire(folder: Path, capsys: pytest.CaptureFixture[str], loopback_server: LoopbackServer,
                                  clean_provider_env: pytest.MonkeyPatch, provider: str) -> None:
    clean_provider_env.setenv("LOOP_KEY", "k")
    config = _config(folder, loopback_server, provider)
    result = run_cli(capsys, "run", folder / "mm" / "suite.yaml", "--config", config, "--out", "out", "--no-cache")
    assert result.code in (0, 1), result.text
    assert all(c["runs"][0]["status"] in ("passed", "failed") for c in results(folder / "out")["cases"])
    blocks = [part for body in _bodies(loopback_server) for m in body["messages"]
              if isinstance(m["content"], list) for part in m["content"]]
    kinds = sorted({b["type"] for b in blocks})
    if provider == "openai":
        assert kinds == ["file", "image_url", "text"], kinds
        image = next(b for b in blocks if b["type"] == "image_url")["image_url"]["url"]
        assert image.startswith("data:image/png;base64,")
        assert next(b for b in blocks if b["type"] == "file")["file"]["filename"] == "images/terms.pdf"
    else:
        assert kinds == ["document", "image", "text"], kinds
        image = next(b for b in blocks if b["type"] == "image")["source"]
        assert image["type"] == "base64" and image["media_type"] == "image/png" and image["data"]
        assert next(b for b in blocks if b["type"] == "document")["source"]["media_type"] == "application/pdf"


def test_audio_to_anthropic_is_refused_before_any_call(folder: Path, capsys: pytest.CaptureFixture[str],
                                                      loopback_server: LoopbackServer,
                                                      clean_provider_env: pytest.MonkeyPatch) -> None:
    clean_provider_env.setenv("LOOP_KEY", "k")
    (folder / "mm" / "clip.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")
    write(folder / "mm" / "audio.yaml", "suite: a\ncases:\n  - id: clip\n    input: Transcribe {{ clip }}\n"
          "    vars: {clip: 'file:clip.wav'}\n")
    config = _config(folder, loopback_server, "anthropic")
    result = run_cli(capsys, "run", folder / "mm" / "audio.yaml", "--config", config, "--out", "out")
    assert result.code == 2 and "Traceback" not in result.text
    assert "case 'clip' sends audio, which provider anthropic does not accept (it takes: image, pdf)" in result.text
    assert loopback_server.total == 0


@pytest.mark.parametrize(("content", "message"), [
    ("[{type: image, file: ../outside.png}]", "must be a relative path inside"),
    ("[{type: image, file: images/terms.pdf}]", "is application/pdf, not an image"),
    ("[{type: video, file: x.mp4}]", "unknown content part type 'video'"),
    ("[{type: image_url, image_url: {url: 'ftp://x/y.png'}}]", "http(s) or a data: URL"),
])
def test_a_bad_part_is_a_load_error(folder: Path, capsys: pytest.CaptureFixture[str], content: str,
                                    message: str) -> None:
    write(folder / "mm" / "bad.yaml", "suite: b\nconfig: config.yaml\ncases:\n  - id: p\n    input:\n"
          f"      - role: user\n        content: {content}\n")
    result = run_cli(capsys, "validate", folder / "mm" / "bad.yaml")
    assert result.code == 2 and message in result.text and "bad.yaml:5" in result.text, result.text


def test_a_dataset_row_reads_a_part_file_only_when_allowed(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    row = {"id": "r", "messages": [{"role": "user", "content": [{"type": "image", "file": "images/chart.png"}]}]}
    write(folder / "mm" / "rows.jsonl", json.dumps(row) + "\n")
    write(folder / "mm" / "rows.yaml", "suite: r\nconfig: config.yaml\ncases_from: rows.jsonl\n")
    refused = run_cli(capsys, "validate", folder / "mm" / "rows.yaml")
    assert refused.code == 2 and "allow_files" in refused.text and "rows.jsonl:1" in refused.text, refused.text


def test_a_part_url_is_escaped_in_the_report(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(folder / "mm" / "url.yaml", "suite: u\nconfig: config.yaml\ncases:\n  - id: u\n    input:\n"
          "      - role: user\n        content: [{type: text, text: hi}, "
          "{type: image, url: 'https://x.test/a.png?\"><script>alert(1)</script>'}]\n")
    result = run_cli(capsys, "run", folder / "mm" / "url.yaml", "--out", "out", "--no-cache")
    assert result.code in (0, 1), result.text
    html = (folder / "out" / "report.html").read_text()
    assert "<script>alert(1)" not in html and "alert(1)" in html  # shown, as text
    assert 'class=\\"part\\" href=\\"https://x.test/a.png?&#34;&gt;&lt;script&gt;' in html, html[-3000:]
