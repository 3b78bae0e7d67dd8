"""A long admin job (training) freezes neither predictions nor an emergency rollback."""

import statistics
import time

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from tests.conftest import shared_file

pytestmark = pytest.mark.slow


def test_predictions_stay_fast_while_a_model_trains(app_server) -> None:
    admin = Client(app_server.url, verbose=False)
    user = Client(app_server.url, verbose=False)
    # Ready before the training starts: a new client's first call (its config) can take
    # longer than the training itself on a busy machine (two test workers on 2 cores).
    operator = Client(app_server.url, verbose=False)
    user.predict(text="warm up", api_name="/predict")
    data = admin.predict(file=handle_file(str(shared_file("sentiment140_sample_20k.csv"))),
                         api_name="/upload_training")
    # A Keras training (tens of seconds): the baseline now trains on 20k tweets in a few
    # seconds, faster than a new client's first call, so it no longer overlaps reliably.
    job = admin.submit(model_type="bilstm", dataset_id=data["dataset_id"],
                       base_version="", hyperparameters='{"epochs": 2, "vocab_size": 5000}',
                       api_name="/train")
    latencies = []
    while job.status().code.name not in ("PROCESSING", "FINISHED"):
        time.sleep(0.05)
    # Issue 9.4: an emergency rollback is answered at once, not after the training.
    started = time.perf_counter()
    with pytest.raises(AppError, match="nothing to roll back"):
        operator.predict(api_name="/rollback")
    rollback_s = time.perf_counter() - started
    assert not job.done(), "the training ended before the rollback could overlap it"
    assert rollback_s < 10, rollback_s
    while not job.done():
        started = time.perf_counter()
        user.predict(text="is my flight on time?", api_name="/predict")
        latencies.append(time.perf_counter() - started)
    assert job.result()["version"]
    assert len(latencies) >= 3, "training finished before predictions could overlap it"
    assert statistics.median(latencies) < 1.0, latencies
