"""Cost of logging every prediction: /predict's handler with and without the log.

Run: ``python -m bench.monitoring``. In-process SentimentService.predict (what /predict
calls) on the bootstrapped baseline, 1,000 calls after 50 warm-up calls, p50/p95, each
mode measured 3 times (median of the p50s), alternating to cancel drift.
"""

from __future__ import annotations

import statistics

from bench.common import isolated_home, latency_ms, print_table


def main() -> None:
    isolated_home()
    from sentiment import lifecycle
    from sentiment.config import get_settings
    from sentiment.serving.service import SentimentService

    lifecycle.bootstrap(log=lambda m: None)
    settings = get_settings()
    services = {"with logging": SentimentService(settings, log_predictions=True),
                "without logging": SentimentService(settings, log_predictions=False)}
    text = "@united my bag is lost and nobody answers the phone"
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in services}
    for _ in range(3):
        for name, service in services.items():
            results[name].append(latency_ms(lambda s=service: s.predict(text), 1000, 50))
    rows = []
    for name, runs in results.items():
        p50 = statistics.median(r[0] for r in runs)
        p95 = statistics.median(r[1] for r in runs)
        rows.append((f"/predict handler {name} (p50 / p95)", f"{p50:.2f} ms / {p95:.2f} ms"))
    logged = services["with logging"].store.query("SELECT COUNT(*) AS n FROM predictions")
    rows.append(("predictions logged during the run", f"{int(logged['n'].iloc[0]):,}"))
    print_table("Prediction logging on the request path (SQLite WAL)", rows)


if __name__ == "__main__":
    main()
