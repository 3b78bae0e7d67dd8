"""A person's path through the page: headless Debian Chromium driven by Playwright.

Playwright never downloads a browser here: it drives the system Chromium that .ci/run
installs from Debian (executable_path). The screenshot lands in tests/artifacts/.
"""

import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.browser]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


def test_predict_a_tweet_in_the_page(app_server, browser) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(app_server.url, wait_until="load")
    assert "Open demo mode" in page.content()
    page.get_by_label("Tweet or review").fill("Worst flight ever, they lost my luggage again")
    page.get_by_role("button", name="Analyse").click()
    label = page.locator("[data-testid='label-output-value']")
    label.wait_for(timeout=60_000)
    assert label.inner_text().strip() == "negative"
    # The model line renders in its own event after the label: wait for it, then read it.
    page.get_by_text("tweet-sentiment").first.wait_for(timeout=30_000)
    page.get_by_role("button", name="Wrong").click()
    page.get_by_text("Thanks, feedback recorded").wait_for(timeout=30_000)
    out = ROOT / "tests" / "artifacts"
    out.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out / "predict.png"), full_page=True)
    assert (out / "predict.png").stat().st_size > 10_000
    page.close()


def test_tabs_are_all_there(app_server, browser) -> None:
    page = browser.new_page()
    page.goto(app_server.url, wait_until="load")
    page.get_by_label("Tweet or review").wait_for(timeout=30_000)
    for tab in ["Predict", "Data", "Train", "Validate", "Models", "Review", "Monitor"]:
        assert page.get_by_role("tab", name=tab, exact=True).count() == 1, tab
    page.get_by_role("tab", name="Models", exact=True).click()
    page.locator("text=tfidf_logreg >> visible=true").first.wait_for(timeout=30_000)
    page.close()
