"""The HTML report in real headless Chromium: filters, search, opening a case, and no script injection.

Needs Debian's chromium at /usr/bin/chromium and Playwright for Python (never `playwright install`).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

try:
    from test_report import make_bundle
except ImportError:  # tests/ collected as a package
    from tests.test_report import make_bundle

from agent_eval.report import render_html

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright for Python is not installed (pip install playwright)"
)
if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)", allow_module_level=True)


class Page:
    """The report opened in a browser page, with everything the page logged."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("dialog", self._dialog)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def reset(self) -> None:
        self.page.click("#reset-filters")

    def wait_until_only(self, case_id: str) -> None:
        """The search box is debounced: wait until the one expected row is left."""
        self.page.wait_for_function(
            "id => { const shown = Array.from(document.querySelectorAll('details.case')).filter(d => !d.hidden);"
            " return shown.length === 1 && shown[0].dataset.key.startsWith(id + ' '); }",
            arg=case_id,
        )

    def visible_ids(self) -> list[str]:
        # page.evaluate runs over the DevTools protocol, so the report's CSP does not block it.
        return list(
            self.page.evaluate(
                "() => Array.from(document.querySelectorAll('details.case'))"
                ".filter(d => !d.hidden).map(d => d.querySelector('.cid').firstChild.textContent)"
            )
        )


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    results, baseline, verdict = make_bundle()
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_html(results, verdict, baseline), encoding="utf-8")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        wrapped = Page(page)
        page.goto(path.as_uri())
        # A selector, not wait_for_function: the report's CSP forbids the eval that polling uses.
        page.wait_for_selector("html[data-ready='1']", state="attached")
        yield wrapped
        browser.close()


ALL = ["c-regress", "c-flaky", "c-error", "c-xss", "c-plain", "c-fixed", "c-new", "c-missing"]


def test_page_loads_without_console_errors(report: Page) -> None:
    assert report.visible_ids() == ALL
    assert report.page.locator("#verdict .outcome").inner_text() == "FAIL"
    assert report.page.locator("#shown").inner_text() == "8 of 8 cases"
    assert report.errors == []


def test_status_filter_tag_filter_and_search(report: Page) -> None:
    page = report.page
    report.reset()
    page.click(".chip[data-status='new_failure']")
    assert report.visible_ids() == ["c-regress"]
    page.click(".chip[data-status='flaky']")  # statuses add up
    assert report.visible_ids() == ["c-regress", "c-flaky"]
    page.click("#reset-filters")
    page.select_option("#tag-filter", "shipping")
    assert report.visible_ids() == ["c-flaky", "c-fixed"]
    page.select_option("#tag-filter", "")
    page.fill("#search", "c-mis")
    report.wait_until_only("c-missing")
    assert report.visible_ids() == ["c-missing"]
    page.fill("#search", "denied")  # text of an output, found in the lazily loaded detail
    report.wait_until_only("c-regress")
    assert report.visible_ids() == ["c-regress"]
    page.click("#reset-filters")
    assert report.visible_ids() == ALL
    assert report.errors == []


def test_opened_case_shows_untrusted_output_as_text(report: Page) -> None:
    page = report.page
    report.reset()
    row = page.locator("details.case[data-key^='c-xss']")
    assert row.locator(".case-detail").count() == 0  # details enter the DOM only when opened
    row.locator("summary").click()
    detail = row.locator(".case-detail")
    detail.wait_for()
    assert row.get_attribute("open") is not None
    text = detail.inner_text()
    assert "<script>alert(1)</script>" in text and '<img src=x onerror="window.__pwned=1">' in text
    assert "baseline output" in text.lower() and "contains" in text
    assert detail.locator("img").count() == 0
    assert page.evaluate("() => document.scripts.length") == 2  # the data block and the report's script
    assert page.evaluate("() => typeof window.__pwned") == "undefined"
    assert report.dialogs == [] and report.errors == []


def test_opened_case_marks_the_changed_words(report: Page) -> None:
    page = report.page
    report.reset()
    row = page.locator("details.case[data-key^='c-regress']")
    row.locator("summary").click()
    first = row.locator(".run").first.locator(".sbs[data-diff] pre")
    first.first.wait_for()
    # Baseline "Your refund of 20 USD was issued today." against "Your refund was denied, sorry."
    assert first.nth(0).locator("del").all_inner_texts() == ["of 20 USD ", "issued today"]
    assert first.nth(1).locator("ins").all_inner_texts() == ["denied, sorry"]
    assert first.nth(0).inner_text() == "Your refund of 20 USD was issued today."  # the text itself is intact
    assert first.nth(1).inner_text() == "Your refund was denied, sorry."
    plain = page.locator("details.case[data-key^='c-plain']")
    plain.locator("summary").click()
    plain.locator(".case-detail").wait_for()
    assert plain.locator("del, ins, .sbs[data-diff]").count() == 0  # identical outputs: nothing to mark
    assert "identical to the baseline" in plain.locator(".case-detail").inner_text().lower()
    page.click("#collapse-all")
    assert report.errors == []


def test_screenshot(report: Page) -> None:
    page = report.page
    report.reset()
    page.locator("details.case[data-key^='c-regress'] > summary").click()
    page.locator("details.case[data-key^='c-regress'] .case-detail").wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / "report.png"
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 10_000
    assert report.errors == []


def test_chromium_is_the_debian_build() -> None:
    assert shutil.which("chromium") or Path(CHROMIUM).exists()
