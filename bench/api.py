"""REST API benchmark: /api/v1/predict against gradio_client's /predict, same server.

Run: ``python -m bench.api`` (``--minilm`` also trains a small MiniLM version, promotes
it and measures it the same way). Starts ``python app.py`` on a temporary home with an
admin password (so every REST call carries a token and is checked) and the per-token rate
limit off (``SENTIMENT_API_RATE_PER_MINUTE=0``: the server is measured, not the limit);
texts are real tweets (the Sentiment140 test split), loopback, median of 3 runs:

- requests/s of single-text predictions from 8 concurrent clients (200 calls each over
  REST, one keep-alive connection each, from a light load generator like ``wrk``:
  :class:`RawClient`; 25 each through ``gradio_client``);
- p50/p95 latency of one REST prediction (400 sequential calls on one connection after
  50 warm-up);
- texts/s with 100-text requests (4 concurrent clients, 40 requests each; after a
  warm-up round, as overlapping batches start the fan-out workers) beside the model's
  own batch speed (the same version loaded in this process, 100-text batches).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from bench.common import ROOT, print_table, sentiment140_split

ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
       "HF_HUB_DISABLE_TELEMETRY": "1", "MLFLOW_DISABLE_TELEMETRY": "true"}
PASSWORD = "bench-admin-password"
RUNS = 3


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``python app.py`` on ``home`` until stopped."""

    def __init__(self, home: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.env = {**os.environ, **ENV, "SENTIMENT_HOME": str(home),
                    "GRADIO_SERVER_PORT": str(self.port), "GRADIO_SERVER_NAME": "127.0.0.1",
                    "SENTIMENT_ADMIN_PASSWORD": PASSWORD, "SENTIMENT_API_RATE_PER_MINUTE": "0",
                    "SENTIMENT_BOOTSTRAP_CHALLENGER": "none",
                    "SENTIMENT_RELOAD_CHECK_SECONDS": "0.5"}
        self.process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=self.env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait_ready(self, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the app exited")
            try:
                if requests.get(self.url + "api/v1/ready", timeout=5).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        raise TimeoutError("the app did not become ready")

    def admin(self, *args: str) -> str:
        out = subprocess.run([sys.executable, "-m", "admin", *args], cwd=ROOT, env=self.env,
                             capture_output=True, text=True, timeout=900, check=True)
        return out.stdout

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


class RawClient:
    """A load generator that costs the server's two cores as little as possible (like
    ``wrk``): one keep-alive HTTP/1.1 connection per client, requests encoded in advance,
    answers checked for status 200 and read whole, not parsed."""

    def __init__(self, url: str, token: str) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        self.host, self.port, self.token = parts.hostname, parts.port, token

    def request(self, texts: list[str]) -> bytes:
        body = json.dumps({"texts": texts}).encode()
        return (f"POST /api/v1/predict HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Authorization: Bearer {self.token}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body

    def rate(self, bodies: list[list[bytes]]) -> float:
        """Requests sent per second, one connection per list of ``bodies``."""
        async def one(queue: list[bytes]) -> None:
            reader, writer = await asyncio.open_connection(self.host, self.port)
            for raw in queue:
                writer.write(raw)
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(head.decode()[:200])
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                await reader.readexactly(length)
            writer.close()

        async def every() -> None:
            await asyncio.gather(*(one(queue) for queue in bodies))
        started = time.perf_counter()
        asyncio.run(every())
        return sum(map(len, bodies)) / (time.perf_counter() - started)


def rest_latency(url: str, token: str, texts: list[str], calls: int = 400,
                 warmup: int = 50) -> tuple[float, float]:
    """p50 and p95 (ms) of one-text predictions sent one after another on one
    keep-alive connection."""
    import socket

    client = RawClient(url, token)
    with socket.create_connection((client.host, client.port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        stream = sock.makefile("rb")
        samples = []
        for i in range(warmup + calls):
            raw = client.request([texts[i % len(texts)]])
            started = time.perf_counter()
            sock.sendall(raw)
            length = 0
            while (line := stream.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length"):
                    length = int(line.split(b":")[1])
            stream.read(length)
            if i >= warmup:
                samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def rest_rps(url: str, token: str, texts: list[str], clients: int = 8, calls: int = 200
             ) -> float:
    client = RawClient(url, token)
    return client.rate([[client.request([texts[(c * calls + i) % len(texts)]])
                         for i in range(calls)] for c in range(clients)])


def gradio_rps(url: str, texts: list[str], clients: int = 8, calls: int = 25) -> float:
    from gradio_client import Client

    made = [Client(url, auth=("admin", PASSWORD), verbose=False) for _ in range(clients)]

    def one(worker: int) -> None:
        for i in range(calls):
            made[worker].predict(text=texts[(worker * calls + i) % len(texts)],
                                 api_name="/predict")
    return _rate(one, clients, clients * calls)


def rest_texts_per_s(url: str, token: str, texts: list[str], clients: int = 4,
                     calls: int = 40, size: int = 100) -> float:
    client = RawClient(url, token)
    bodies = [[client.request(texts[(start := ((c * calls + i) * size) % (len(texts) - size)):
                                    start + size]) for i in range(calls)]
              for c in range(clients)]
    return client.rate(bodies) * size


def _rate(work: Any, clients: int, total: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(work, range(clients)))
    return total / (time.perf_counter() - started)


def model_texts_per_s(home: Path, texts: list[str], size: int = 100, batches: int = 200
                      ) -> float:
    """The production version's own speed on 100-text batches, in this process."""
    os.environ.update({**ENV, "SENTIMENT_HOME": str(home)})
    from sentiment import registry
    from sentiment.config import get_settings

    settings = get_settings()
    model = registry.load_model(registry.production_version(settings), settings)
    model.predict_proba(texts[:size])  # varied batches, like the requests' (not one repeated)
    started = time.perf_counter()
    for i in range(batches):
        start = (i * size) % (len(texts) - size)
        model.predict_proba(texts[start:start + size])
    return batches * size / (time.perf_counter() - started)


def served_version(url: str, token: str) -> str:
    answer = requests.post(url + "api/v1/predict", json={"texts": ["hello"]}, timeout=30,
                           headers={"Authorization": f"Bearer {token}"})
    return answer.json()["model"]["version"]


def measure(server: Server, home: Path, token: str, texts: list[str], label: str
            ) -> list[tuple[str, str]]:
    url = server.url
    rest_texts_per_s(url, token, texts)  # warm-up: overlapping batches start the workers
    time.sleep(10)  # (sentiment.serving.fanout), which load the version meanwhile
    rest = [rest_rps(url, token, texts) for _ in range(RUNS)]
    grad = [gradio_rps(url, texts) for _ in range(RUNS)]
    p50, p95 = zip(*(rest_latency(url, token, texts) for _ in range(RUNS)))
    batch = [rest_texts_per_s(url, token, texts) for _ in range(RUNS)]
    own = [model_texts_per_s(home, texts) for _ in range(RUNS)]
    r, g, b, o = (statistics.median(x) for x in (rest, grad, batch, own))
    return [(f"{label}: REST single-text req/s, 8 clients", f"{r:,.0f}"),
            (f"{label}: gradio_client /predict req/s, 8 clients", f"{g:,.0f}"),
            (f"{label}: REST / gradio_client", f"{r / g:.1f}x (target >= 10x)"),
            (f"{label}: REST p50 / p95 latency, one text",
             f"{statistics.median(p50):.2f} / {statistics.median(p95):.2f} ms (target p50 "
             "<= 5 ms)"),
            (f"{label}: REST texts/s, 100-text requests, 4 clients", f"{b:,.0f}"),
            (f"{label}: the model's own texts/s, 100-text batches", f"{o:,.0f}"),
            (f"{label}: REST / model's own", f"{b / o:.0%}")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minilm", action="store_true",
                        help="also train, promote and measure a small MiniLM version")
    args = parser.parse_args()
    _, test = sentiment140_split()
    texts = test["text"].tolist()
    home = Path(tempfile.mkdtemp(prefix="sentiment-bench-api-")) / "home"
    server = Server(home)
    rows: list[tuple[str, str]] = []
    try:
        server.wait_ready()
        token = next(w for w in server.admin("token", "create", "bench", "--role",
                                             "admin").split() if w.startswith("snt_"))
        rows += measure(server, home, token, texts, "tfidf_logreg")
        if args.minilm:
            train = Path(home.parent / "minilm.csv")
            sample = sentiment140_split()[0].sample(2000, random_state=1)
            sample.to_csv(train, index=False)
            dataset = server.admin("ingest", str(train), "--role", "training").split()[1]
            version = server.admin("--json", "train", "--model-type", "minilm", "--dataset",
                                   dataset, "--param", "epochs=1")
            number = version.split('"version": "')[1].split('"')[0]
            server.admin("promote", number, "--force")
            deadline = time.monotonic() + 300
            while served_version(server.url, token) != number:  # the alias watcher
                if time.monotonic() > deadline:
                    raise TimeoutError("the MiniLM version was not served")
                time.sleep(1)
            rows += measure(server, home, token, texts, "minilm")
    finally:
        server.stop()
    print_table(f"REST API vs gradio_client (loopback, {os.cpu_count()} cores, median of "
                f"{RUNS})", rows)


if __name__ == "__main__":
    main()
