"""The report's run timeline in real headless Chromium: it opens, shows the spans and the trajectory, and
a tool result holding markup stays text. Needs /usr/bin/chromium and Playwright (as test_report_browser)."""

from __future__ import annotations

from pathlib import Path

import pytest
from clitools import run_cli

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright for Python is not installed (pip install playwright)"
)
if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)", allow_module_level=True)


def test_timeline_opens_in_the_browser_with_the_trajectory(workdir: Path, capsys) -> None:
    suite = workdir / "suites/support-agent.yaml"
    suite.write_text(suite.read_text().replace('result: {order_id: "4321", status: delivered}',
                                               'result: {order_id: "4321", status: delivered, '
                                               'note: "<img src=x onerror=window.__pwned=1>"}'))
    r = run_cli(capsys, "run", suite, "--config", "suites/configs/support-agent-regressed.yaml", "--out", "out")
    assert r.code in (0, 1), r.text
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto((workdir / "out/report.html").as_uri())
        page.wait_for_selector("html[data-ready='1']", state="attached")
        assert "Failure kinds" in page.locator("#summary").inner_text()
        row = page.locator("details.case[data-key^='refund-unknown-order']")
        assert row.locator("summary small.fk").text_content() == "prompt ×3", row.locator("summary").inner_html()
        row.locator("summary").click()
        timeline = row.locator("details.tl").first
        timeline.wait_for()
        assert not timeline.locator("ol.spans").is_visible()  # collapsed until asked
        timeline.locator("summary").click()
        assert timeline.locator("ol.spans li").first.is_visible()
        assert "model" in timeline.locator("ol.spans").inner_text()
        table = timeline.locator("table.trajectory")
        assert table.is_visible() and "lookup_order" in table.inner_text()
        assert table.locator("tr.changed").count() >= 1
        cancel = page.locator("details.case[data-key^='cancel-and-refund-4321']")
        cancel.locator("summary").click()
        cancel.locator(".case-detail").wait_for()
        cancel.locator("details.tl > summary").first.click()
        assert "<img src=x onerror=window.__pwned=1>" in cancel.locator("details.tl").first.inner_text()
        assert page.evaluate("() => typeof window.__pwned") == "undefined"
        assert cancel.locator(".case-detail img").count() == 0
        browser.close()
    assert errors == []
