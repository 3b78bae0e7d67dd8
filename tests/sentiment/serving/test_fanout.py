"""Large batches across worker processes: same answers, any failure falls back.

Real trained versions, real worker processes (``python -m sentiment.serving.fanout``) talking
over pipes; nothing is mocked.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sentiment import lifecycle, registry
from sentiment.config import SettingsError, get_settings, serving_processes
from sentiment.models.pyfunc import SentimentModel
from sentiment.serving.fanout import FAN_FROM, LEND_FROM, Fanout, fanout
from sentiment.serving.server import ModelServer

ODD = ["", "=cmd|' /C calc'!A0", 'quote " and \\ backslash', "new\nline", "nul\x00byte",
       "lone \ud800 surrogate", "😡 delayed again #fail", "ok " * 300]


def big_batch(corpus: pd.DataFrame, rows: int = FAN_FROM + 904) -> list[str]:
    """Real tweets of the default corpus (repeated to ``rows``) and odd strings."""
    texts = corpus["text"].astype(str).tolist()
    return (ODD + texts * (rows // len(texts) + 1))[:rows]


def loaded(version: str, tmp_path: Path) -> SentimentModel:
    model = SentimentModel()
    model.load_dir(registry.model_dir(version, get_settings(), tmp_path / f"v{version}"))
    return model


@pytest.fixture
def model(trained: dict[str, str], tmp_path: Path) -> SentimentModel:
    """The trained baseline version, loaded from its model folder."""
    return loaded(trained["version"], tmp_path)


def test_workers_give_the_same_answers_in_order(
        model: SentimentModel, corpus: pd.DataFrame) -> None:
    fan = fanout(model, 2)
    assert isinstance(fan, Fanout)
    texts = big_batch(corpus)
    expected = model.predict_proba(texts)
    assert fan.start(wait=True)
    got = fan.predict_proba(texts)
    assert fan.fanned == 1
    assert np.array_equal(got, expected)
    # Small batches never leave the process; the wrapper still answers like the model.
    assert np.array_equal(fan.predict_proba(texts[:50]), expected[:50])
    assert fan.fanned == 1
    assert fan.model_type == "tfidf_logreg"
    fan.close()
    assert not fan.ready


@pytest.mark.slow
def test_overlapping_medium_batches_start_the_workers_and_go_to_one_each(
        model: SentimentModel, corpus: pd.DataFrame) -> None:
    """Concurrent REST requests of 100 texts: one after another they stay here; once two
    overlap the workers start, and later ones are each answered whole by one worker
    (same answers), so requests are scored on several cores."""
    import threading

    fan = fanout(model, 2)
    texts = big_batch(corpus, 400)
    batches = [texts[i:i + 100] for i in range(0, 400, 100)]
    expected = [model.predict_proba(b) for b in batches]
    for batch, want in zip(batches, expected):  # sequential: no workers
        assert np.array_equal(fan.predict_proba(batch), want)
    assert not fan.ready and not fan._starting
    barrier = threading.Barrier(4)
    answers: dict[int, np.ndarray] = {}

    def call(i: int) -> None:
        barrier.wait()
        for _ in range(20):
            answers[i] = fan.predict_proba(batches[i])
    threads = [threading.Thread(target=call, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(np.array_equal(answers[i], expected[i]) for i in range(4))
    deadline = time.monotonic() + 60
    while not fan.ready:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    lent = fan.lent
    assert np.array_equal(fan.predict_proba(batches[1]), expected[1])
    assert fan.lent == lent + 1 and fan.fanned == 0
    assert np.array_equal(fan.predict_proba(batches[1][:LEND_FROM - 1]),
                          expected[1][:LEND_FROM - 1])
    assert fan.lent == lent + 1  # a small batch stays here
    fan.close()


def test_the_first_large_batch_is_served_while_the_workers_start(
        model: SentimentModel, corpus: pd.DataFrame) -> None:
    fan = Fanout(model, model.directory, 2)
    texts = big_batch(corpus)
    first = fan.predict_proba(texts)  # starts the workers in the background
    assert fan.fanned == 0 and np.array_equal(first, model.predict_proba(texts))
    deadline = time.monotonic() + 120
    while not fan.ready and time.monotonic() < deadline:  # the background start
        time.sleep(0.1)
    assert np.array_equal(fan.predict_proba(texts), first)
    assert fan.fanned == 1
    fan.close()


@pytest.mark.slow
def test_a_killed_worker_costs_speed_not_answers(
        model: SentimentModel, corpus: pd.DataFrame) -> None:
    fan = Fanout(model, model.directory, 2)
    assert fan.start(wait=True)
    texts = big_batch(corpus)
    expected = model.predict_proba(texts)
    os.kill(fan._workers[1].pid, signal.SIGKILL)
    fan._workers[1].wait()
    assert np.array_equal(fan.predict_proba(texts), expected)  # scored in-process
    assert fan.fanned == 0 and not fan.ready
    assert not fan.start(wait=True)  # no restart storm: at most once a minute
    fan.retry_after = 0.0
    assert fan.start(wait=True)
    assert np.array_equal(fan.predict_proba(texts), expected)
    assert fan.fanned == 1
    fan.close()


def test_workers_that_cannot_load_leave_serving_in_process(
        model: SentimentModel, corpus: pd.DataFrame, tmp_path: Path) -> None:
    fan = Fanout(model, tmp_path / "no-such-model", 2)
    assert not fan.start(wait=True)
    texts = big_batch(corpus)
    assert np.array_equal(fan.predict_proba(texts), model.predict_proba(texts))
    assert fan.fanned == 0


def test_the_server_fans_out_the_types_that_gain(trained: dict[str, str],
                                                 corpus: pd.DataFrame,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIMENT_SERVING_PROCESSES", "2")
    server = ModelServer(watch=False)
    model = server.snapshot().model
    assert isinstance(model, Fanout)
    assert model.start(wait=True)
    texts = big_batch(corpus)
    predictions = server.predict(texts)
    assert model.fanned == 1
    alone = model.model.predict_proba(texts)
    assert [p.proba_positive for p in predictions] == [float(p) for p in alone]
    model.close()
    monkeypatch.setenv("SENTIMENT_SERVING_PROCESSES", "0")
    assert not isinstance(ModelServer(watch=False).snapshot().model, Fanout)


def test_serving_processes_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SENTIMENT_SERVING_PROCESSES", raising=False)
    usable = len(os.sched_getaffinity(0))
    assert serving_processes() == (usable if usable >= 2 else 0)
    assert get_settings().serving_processes == serving_processes()
    for raw, value in (("0", 0), ("3", 3), ("auto", serving_processes())):
        monkeypatch.setenv("SENTIMENT_SERVING_PROCESSES", raw)
        assert serving_processes() == value
    for bad in ("1", "-2", "many", "65"):
        monkeypatch.setenv("SENTIMENT_SERVING_PROCESSES", bad)
        with pytest.raises(SettingsError):
            get_settings()


@pytest.mark.slow
def test_bilstm_workers_agree_with_the_served_model(datasets: dict[str, str],
                                                    corpus: pd.DataFrame,
                                                    tmp_path: Path) -> None:
    version = lifecycle.train("bilstm", datasets["training"],
                              params={"epochs": 1, "vocab_size": 5000})["version"]
    model = loaded(version, tmp_path)
    assert model.predictor.backend == "onnx-float"
    fan = fanout(model, 2)
    assert isinstance(fan, Fanout) and fan.start(wait=True)
    texts = big_batch(corpus)
    # Workers run ONNX Runtime on one thread each: same numbers up to float rounding.
    assert np.abs(fan.predict_proba(texts) - model.predict_proba(texts)).max() < 1e-6
    assert fan.fanned == 1
    fan.close()
