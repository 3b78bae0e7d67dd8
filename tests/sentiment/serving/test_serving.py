"""Serving: N in N out for every input shape, fresh-process loading, atomic hot swap."""

import subprocess
import sys
import threading
import time

import pandas as pd
import pytest

from sentiment import lifecycle
from sentiment.config import get_settings
from sentiment.errors import InvalidInputError, NotFoundError
from sentiment.serving.server import ModelServer

TEXTS = ["I love this airline", "worst flight ever", "thanks for the upgrade :)",
         "lost my bag again", "ok"]


def test_pyfunc_n_rows_in_n_rows_out(trained: dict[str, str]) -> None:
    import mlflow

    from sentiment import registry

    registry.fluent(get_settings())  # MLflow's own loader, pointed at this home
    uri = f"models:/{get_settings().model_name}@production"
    model = mlflow.pyfunc.load_model(uri)
    for data in (TEXTS, pd.Series(TEXTS), pd.DataFrame({"text": TEXTS})):
        out = model.predict(data)
        assert list(out.columns) == ["label", "proba_positive"]
        assert len(out) == len(TEXTS)
        assert set(out["label"]) <= {"positive", "negative"}
    assert out["label"].iloc[0] == "positive" and out["label"].iloc[1] == "negative"
    assert model.metadata.signature is not None


def test_loads_in_a_fresh_process_from_the_registry(trained: dict[str, str], home) -> None:
    script = ("import mlflow, sys; mlflow.set_tracking_uri(sys.argv[1]);"
              "m = mlflow.pyfunc.load_model('models:/tweet-sentiment@production');"
              "print(m.predict(['I love it', 'I hate it', 'meh'])['label'].tolist())")
    out = subprocess.run([sys.executable, "-c", script, get_settings().tracking_uri],
                         capture_output=True, text=True, timeout=120, cwd=home)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "['positive', 'negative', 'negative']"


def test_loading_never_grows_sys_path(trained: dict[str, str]) -> None:
    from sentiment import registry

    registry.load_model(trained["version"], get_settings())  # the first import may add paths
    before = list(sys.path)
    for _ in range(3):
        model = registry.load_model(trained["version"], get_settings())
    assert sys.path == before
    assert model.predict_proba(["I love this airline"])[0] > 0.5


def test_a_newer_preprocessing_version_is_refused_clearly(trained: dict[str, str],
                                                          tmp_path) -> None:
    import json

    from sentiment import registry
    from sentiment.errors import RefusedError
    from sentiment.models.pyfunc import META, SentimentModel

    folder = registry.model_dir(trained["version"], get_settings(), tmp_path)
    meta = json.loads((folder / META).read_text())
    assert meta["preprocess_version"] == 1
    SentimentModel().load_dir(folder)  # the version this code writes loads
    (folder / META).write_text(json.dumps({**meta, "preprocess_version": 99}))
    with pytest.raises(RefusedError, match="preprocessing version 99; this code serves"):
        SentimentModel().load_dir(folder)


def test_server_predicts_and_rejects_bad_text(trained: dict[str, str]) -> None:
    server = ModelServer()
    first = server.predict_one("I love this airline")
    assert first.label == "positive" and first.version == trained["version"]
    assert 0.5 <= first.confidence <= 1.0
    with pytest.raises(InvalidInputError, match="empty"):
        server.predict_one("   ")
    with pytest.raises(InvalidInputError, match="limit"):
        server.predict_one("x" * 6000)


def test_a_lone_surrogate_from_json_is_served_and_logged(trained: dict[str, str]) -> None:
    from sentiment.serving.service import SentimentService

    service = SentimentService()
    text = "thanks for the upgrade \ud800 :)"  # what json.loads makes of "\\ud800"
    answer = service.predict(text)
    assert answer["label"] in ("positive", "negative") and answer["logging"] == "ok"
    logged = service.store.query("SELECT text FROM predictions WHERE id = :id",
                                 {"id": answer["prediction_id"]})
    assert logged["text"].tolist() == ["thanks for the upgrade \ufffd :)"]
    note = service.feedback(text, answer["label"], False, answer["prediction_id"])
    assert note["verified"]  # the repaired text matches the repaired prediction
    # A valid surrogate pair (an emoji sent as two escapes) is the emoji itself.
    assert service.server.predict(["\ud83d\ude00"])[0].text == "\U0001f600"


def test_no_production_model_is_a_clear_error() -> None:
    with pytest.raises(NotFoundError, match="No production model"):
        ModelServer().predict_one("hello")


@pytest.mark.slow
def test_hot_swap_while_another_thread_predicts(trained: dict[str, str]) -> None:
    server = ModelServer()
    server.predict_one("warm")
    seen: list[str] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            try:
                seen.append(server.predict(TEXTS)[0].version)
            except BaseException as exc:  # noqa: BLE001 - the test reports any failure
                errors.append(exc)

    thread = threading.Thread(target=hammer)
    thread.start()
    new = lifecycle.train("tfidf_logreg", trained["training"], params={"C": "3"})["version"]
    lifecycle.promote(new, force=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (not seen or seen[-1] != new):
        time.sleep(0.05)
    stop.set()
    thread.join()
    assert not errors
    assert seen[-1] == new, "the server did not pick up the promotion without a restart"
    first_new = seen.index(new)
    assert set(seen[:first_new]) == {trained["version"]}
    assert set(seen[first_new:]) == {new}, "a request went back to the old version"


@pytest.mark.slow
def test_a_slow_stale_load_never_replaces_a_newer_model(trained: dict[str, str],
                                                        monkeypatch) -> None:
    """Issue 10.4: v2 starts loading, the alias goes back to v1 before v2 has loaded: the
    finished v2 is dropped, never served, even for a moment."""
    from sentiment import registry

    settings = get_settings()
    v1 = trained["version"]
    v2 = lifecycle.train("tfidf_logreg", trained["training"], settings=settings)["version"]
    server = ModelServer(settings, watch=False)
    assert server.predict_one("warm").version == v1
    real_load, release = registry.load_model, threading.Event()

    def slow_load(version: str, s) -> object:
        if version == v2:
            release.wait(60)
        return real_load(version, s)

    monkeypatch.setattr(registry, "load_model", slow_load)
    served, done = set(), threading.Event()
    watcher = threading.Thread(target=lambda: [served.add(server.version)
                                               for _ in iter(lambda: done.is_set(), True)])
    watcher.start()
    lifecycle.promote(v2, force=True, settings=settings)
    stale = threading.Thread(target=server.check)  # sees v2 and starts loading it slowly
    stale.start()
    time.sleep(0.5)
    lifecycle.rollback(settings)
    newer = threading.Thread(target=server.check)  # sees v1 again, waits for the loader
    newer.start()
    time.sleep(0.5)
    release.set()
    stale.join(60)
    newer.join(60)
    done.set()
    watcher.join()
    assert served == {v1}, f"served {served}: the stale v2 replaced the newer alias target"
    assert server.predict_one("I love this airline").version == v1
