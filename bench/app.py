"""App benchmark: /predict through gradio_client beside a trivial Gradio echo app.

Run: ``python -m bench.app``. Launches ``python app.py`` (temporary SENTIMENT_HOME) and a
one-line echo app in the same run, so the framework's own overhead is visible:
- cold start: from ``python app.py`` on an empty home (bootstrap included) and on a
  home that already has a production model, to the first /predict answer;
- p50/p95 of 200 sequential /predict calls after 20 warm-up calls;
- throughput with 8 concurrent clients (each 50 calls), median of 3 runs.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import ROOT, print_table

ECHO_APP = """
import gradio as gr
with gr.Blocks() as demo:
    box, out = gr.Textbox(), gr.Textbox()
    box.submit(lambda text: text, box, out, api_name="predict", concurrency_limit=16)
demo.queue(default_concurrency_limit=8).launch(ssr_mode=False)
"""
ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
       "HF_HUB_DISABLE_TELEMETRY": "1", "MLFLOW_DISABLE_TELEMETRY": "true"}
TEXT = "@united my flight was delayed 3 hours and nobody told us anything"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(args: list[str], home: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, **ENV, "SENTIMENT_HOME": str(home), "GRADIO_SERVER_PORT": str(port),
           "GRADIO_SERVER_NAME": "127.0.0.1"}
    env.pop("SENTIMENT_ADMIN_PASSWORD", None)
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    return process, f"http://127.0.0.1:{port}/"


def first_answer(url: str, process: subprocess.Popen, timeout: float = 300) -> float:
    """Seconds until /predict answers (polling the server)."""
    from gradio_client import Client

    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError("server exited")
        try:
            Client(url, verbose=False).predict(text=TEXT, api_name="/predict")
            return time.perf_counter() - started
        except Exception:  # noqa: BLE001 - not up yet: keep polling
            time.sleep(0.2)
    raise TimeoutError(url)


def latency(url: str, calls: int = 200) -> tuple[float, float]:
    from gradio_client import Client

    client = Client(url, verbose=False)
    for _ in range(20):
        client.predict(text=TEXT, api_name="/predict")
    samples = []
    for _ in range(calls):
        t = time.perf_counter()
        client.predict(text=TEXT, api_name="/predict")
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(calls * 0.95) - 1]


def throughput(url: str, clients: int = 8, calls: int = 50) -> float:
    from gradio_client import Client

    pool = [Client(url, verbose=False) for _ in range(clients)]

    def work(client: Client) -> None:
        for _ in range(calls):
            client.predict(text=TEXT, api_name="/predict")

    runs = []
    for _ in range(3):
        t = time.perf_counter()
        with ThreadPoolExecutor(clients) as executor:
            list(executor.map(work, pool))
        runs.append(clients * calls / (time.perf_counter() - t))
    return statistics.median(runs)


def measure(args: list[str], home: Path) -> tuple[float, tuple[float, float], float]:
    process, url = start(args, home)
    try:
        cold = first_answer(url, process)
        return cold, latency(url), throughput(url)
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="bench-app-"))
    cold_empty, (p50, p95), rps = measure([sys.executable, "app.py"], home / "app")
    warm_process, warm_url = start([sys.executable, "app.py"], home / "app")
    try:
        cold_ready = first_answer(warm_url, warm_process)
    finally:
        warm_process.terminate()
        warm_process.wait(timeout=30)
    script = home / "echo_app.py"
    script.write_text(ECHO_APP)
    echo_cold, (e50, e95), erps = measure([sys.executable, str(script)], home / "echo")
    print_table("Gradio app vs a trivial echo app (gradio_client on loopback)", [
        ("cold start, empty SENTIMENT_HOME (bootstrap included) -> first /predict",
         f"{cold_empty:.1f} s"),
        ("cold start, existing production model -> first /predict", f"{cold_ready:.1f} s"),
        ("echo app cold start -> first answer", f"{echo_cold:.1f} s"),
        ("/predict p50 / p95, 200 sequential calls", f"{p50:.1f} ms / {p95:.1f} ms"),
        ("echo app p50 / p95, 200 sequential calls", f"{e50:.1f} ms / {e95:.1f} ms"),
        ("/predict throughput, 8 concurrent clients", f"{rps:.0f} req/s"),
        ("echo app throughput, 8 concurrent clients", f"{erps:.0f} req/s"),
    ])


if __name__ == "__main__":
    main()
