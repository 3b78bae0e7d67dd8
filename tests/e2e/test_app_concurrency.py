"""A long admin job (training) freezes neither predictions nor an emergency rollback."""

import statistics
import time

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from sentiment.config import get_settings
from sentiment.pipeline import jobs
from tests.conftest import shared_file

pytestmark = pytest.mark.slow


def _running_job(settings, timeout: float = 120) -> dict:
    """The app's training job once its record says it is in its epochs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = jobs.list_jobs(settings, running_only=True)
        if running and running[0]["fraction"] > 0:
            return running[0]
        time.sleep(0.1)
    raise TimeoutError("the training never started")


def test_predictions_stay_fast_while_a_model_trains(app_server, monkeypatch) -> None:
    monkeypatch.setenv("SENTIMENT_HOME", str(app_server.home))
    settings = get_settings()
    admin = Client(app_server.url, verbose=False)
    user = Client(app_server.url, verbose=False)
    operator = Client(app_server.url, verbose=False)
    user.predict(text="warm up", api_name="/predict")
    data = admin.predict(file=handle_file(str(shared_file("sentiment140_sample_20k.csv"))),
                         api_name="/upload_training")
    # Far more epochs than the test needs: it stops the training itself once it has seen
    # what it came for, so a fast machine never finishes the training first.
    job = admin.submit(model_type="bilstm", dataset_id=data["dataset_id"],
                       base_version="", hyperparameters='{"epochs": 40, "vocab_size": 5000}',
                       api_name="/train")
    record = _running_job(settings)
    # Issue 9.4: an emergency rollback is answered at once, not after the training.
    started = time.perf_counter()
    with pytest.raises(AppError, match="nothing to roll back"):
        operator.predict(api_name="/rollback")
    rollback_s = time.perf_counter() - started
    latencies = []
    for _ in range(8):
        started = time.perf_counter()
        user.predict(text="is my flight on time?", api_name="/predict")
        latencies.append(time.perf_counter() - started)
    assert jobs.list_jobs(settings, running_only=True), "the training ended too soon"
    assert rollback_s < 10, rollback_s
    assert statistics.median(latencies) < 1.0, latencies
    # Stopped from outside the app (what `python -m admin stop` does): no version.
    assert jobs.stop(settings, record["job"])["state"] == "stopping"
    result = job.result()
    assert result["status"] == "stopped" and result["version"] is None
