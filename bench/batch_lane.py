"""Single predictions while large batch files are scored (issue 21.10).

Run: ``python -m bench.batch_lane``. Starts ``python app.py`` (temporary home, the
``tfidf_logreg`` baseline) twice: with the batch lane (files above 512 KB scored in a
child process) and without it (``SENTIMENT_BATCH_LANE_KB`` huge: every file in the
serving process). Each time, one client sends 100 sequential /predict calls while two
other clients each send a 200,000-row CSV (Sentiment140 texts repeated) to
/predict_batch; the table gives those predictions' p50 / p95 / max beside an idle run.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd

from bench.app import TEXT, first_answer, start
from bench.common import SHARED

ROWS = 200_000


def batch_file(folder: Path) -> Path:
    texts = pd.read_csv(SHARED / "sentiment140_sample_20k.csv", encoding="latin-1")["text"]
    frame = pd.DataFrame({"text": (texts.tolist() * (ROWS // len(texts) + 1))[:ROWS]})
    path = folder / "batch.csv"
    frame.to_csv(path, index=False)
    return path


def latencies(url: str, calls: int = 100) -> list[float]:
    from gradio_client import Client

    client = Client(url, verbose=False)
    out = []
    for _ in range(calls):
        started = time.perf_counter()
        client.predict(text=TEXT, api_name="/predict")
        out.append((time.perf_counter() - started) * 1000)
    return out


def measure(lane_kb: str, csv: Path) -> dict[str, list[float]]:
    import os

    from gradio_client import Client, handle_file

    os.environ["SENTIMENT_BATCH_LANE_KB"] = lane_kb
    os.environ["SENTIMENT_BOOTSTRAP_CHALLENGER"] = "none"
    home = Path(tempfile.mkdtemp(prefix="sentiment-bench-lane-")) / "home"
    process, url = start(["python", "app.py"], home)
    try:
        first_answer(url, process)
        idle = latencies(url, 50)
        batches = [Client(url, verbose=False) for _ in range(2)]
        threads = [threading.Thread(target=lambda c=c: c.predict(
            file=handle_file(str(csv)), api_name="/predict_batch")) for c in batches]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        busy = latencies(url, 100)
        for thread in threads:
            thread.join()
        return {"idle": idle, "busy": busy}
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    csv = batch_file(Path(tempfile.mkdtemp()))
    rows = []
    for name, lane_kb in (("batch lane (child process)", "512"),
                          ("in the serving process", "1000000000")):
        result = measure(lane_kb, csv)
        for when, values in result.items():
            cut = sorted(values)
            rows.append([name, when, f"{statistics.median(cut):.0f}",
                         f"{cut[int(0.95 * (len(cut) - 1))]:.0f}", f"{cut[-1]:.0f}"])
    print("| batch files | predictions | p50 ms | p95 ms | max ms |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
