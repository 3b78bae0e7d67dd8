"""The real Gradio app, launched with `python app.py` and driven with gradio_client."""

from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from tests.conftest import shared_file

pytestmark = pytest.mark.slow
SPEC_ENDPOINTS = {"/predict", "/predict_batch", "/feedback", "/upload_training",
                  "/upload_validation", "/datasets", "/train", "/validate", "/promote",
                  "/rollback", "/models", "/monitoring", "/explain", "/review_queue", "/label",
                  "/review_to_dataset"}


@pytest.fixture(scope="module")
def client(app_server) -> Client:
    return Client(app_server.url, verbose=False)


def test_view_api_lists_every_spec_endpoint(client: Client) -> None:
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert set(api) >= SPEC_ENDPOINTS
    params = {name: [p["parameter_name"] for p in info["parameters"]]
              for name, info in api.items()}
    assert params["/predict"] == ["text"]
    assert params["/predict_batch"] == ["file"]
    assert params["/feedback"] == ["text", "predicted_label", "is_correct"]
    assert params["/train"] == ["model_type", "dataset_id", "base_version", "hyperparameters"]
    assert params["/validate"] == ["version", "dataset_id", "min_accuracy", "auto_promote"]
    assert params["/promote"][0] == "version"
    assert params["/rollback"] == params["/models"] == params["/monitoring"] == []
    assert params["/explain"] == ["text"] and params["/review_queue"] == []
    assert params["/label"] == ["prediction_id", "label"]
    assert params["/review_to_dataset"] == ["name"]
    assert params["/upload_training"][0] == "file"


def test_predict_answers_with_label_and_details(client: Client) -> None:
    label, details = client.predict(text="I love this airline, great crew", api_name="/predict")
    assert label["label"] == "positive"
    assert {c["label"] for c in label["confidences"]} == {"positive", "negative"}
    assert details["model_name"] == "tweet-sentiment" and details["version"] == "1"
    assert details["latency_ms"] >= 0
    ack = client.predict(text="I love this airline, great crew", predicted_label="positive",
                         is_correct=True, api_name="/feedback")
    assert "recorded" in ack
    summary = client.predict(api_name="/monitoring")
    assert summary["predictions"] >= 1 and summary["feedback"] >= 1


def test_whole_lifecycle_over_the_api(client: Client) -> None:
    client.predict(text="warm up", api_name="/predict")  # waits for the first-start bootstrap
    train = client.predict(file=handle_file(str(shared_file("sentiment140_sample_20k.csv"))),
                           api_name="/upload_training")
    assert train["format"] == "Sentiment140 (with header)" and train["rows_kept"] == 19982
    val = client.predict(
        file=handle_file(str(shared_file("sentiment140_sample_10k_noheader.csv"))),
        api_name="/upload_validation")
    assert val["dataset_type"] == "jdd validation"
    table = client.predict(api_name="/datasets")
    assert {train["dataset_id"], val["dataset_id"]} <= {row[0] for row in table["data"]}

    trained = client.predict(model_type="tfidf_logreg", dataset_id=train["dataset_id"],
                             base_version="", hyperparameters='{"C": 1.0}', api_name="/train")
    version = trained["version"]
    assert trained["status"] == "à valider" and trained["metrics"]["accuracy"] > 0.7

    with pytest.raises(AppError, match="not passed validation"):
        client.predict(version=version, force=False, api_name="/promote")

    checked = client.predict(version=version, dataset_id=[val["dataset_id"]], min_accuracy=0.75,
                             auto_promote=False, api_name="/validate")  # a list of ids
    assert checked["passed"], checked["reasons"]
    assert checked["gate_metric"] == "balanced_accuracy"
    assert [c["dataset_id"] for c in checked["datasets"]] == [val["dataset_id"]]
    assert checked["production_version"] == "1" and checked["production_metrics"]
    promoted = client.predict(version=version, force=False, api_name="/promote")
    assert promoted["production_version"] == version

    _, details = client.predict(text="worst flight ever", api_name="/predict")
    assert details["version"] == version
    models = client.predict(api_name="/models")
    production = [row for row in models["data"] if row[1] is True]
    assert [row[0] for row in production] == [version]
    assert {"progress", "validation_metric", "validation_score"} <= set(models["headers"])

    rolled = client.predict(api_name="/rollback")
    assert rolled["production_version"] == "1"
    _, details = client.predict(text="worst flight ever", api_name="/predict")
    assert details["version"] == "1"


def test_batch_prediction_file_is_formula_safe(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "batch.csv"
    path.write_text('id,text\n1,"=HYPERLINK(""http://x"",""click"")"\n2,I love it\n'
                    '3,+worst flight ever\n')
    result_file, summary = client.predict(file=handle_file(str(path)), api_name="/predict_batch")
    assert summary["rows"] == 3 and summary["positive"] + summary["negative"] == 3
    lines = Path(result_file).read_text().splitlines()
    assert lines[0] == '"id","text","label","proba_positive"'  # every cell quoted
    assert lines[1].startswith('"1","\'=HYPERLINK(') and lines[3].startswith('"3","\'+worst')


def test_headerless_batch_uses_the_text_column(client: Client) -> None:
    path = shared_file("sentiment140_sample_10k_noheader.csv")
    _, summary = client.predict(file=handle_file(str(path)), api_name="/predict_batch")
    assert summary["rows"] == 10001 and summary["text_column"] == "column_6"


@pytest.mark.parametrize(("content", "message"), [
    (b"", "empty"), (b"\x00\x01\x02garbage" * 10, "binary"),
    (b"text,label\ngood,1\nnice,1\n", "Only one class"),
    (b"foo,bar\n1,2\n", "Could not find a text column"),
])
def test_bad_uploads_are_clear_errors_and_change_nothing(client: Client, tmp_path: Path,
                                                         content: bytes, message: str) -> None:
    before = client.predict(api_name="/datasets")["data"]
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(AppError, match=message):
        client.predict(file=handle_file(str(path)), api_name="/upload_training")
    assert client.predict(api_name="/datasets")["data"] == before


def test_bad_requests_are_clear_errors(client: Client) -> None:
    with pytest.raises(AppError, match="empty"):
        client.predict(text="   ", api_name="/predict")
    with pytest.raises(AppError, match="No version"):
        client.predict(version="999", force=False, api_name="/promote")
    with pytest.raises(AppError, match="JSON"):
        client.predict(model_type="tfidf_logreg", dataset_id="x", base_version="",
                       hyperparameters="{not json", api_name="/train")


def test_explain_gives_each_word_its_weight(client: Client) -> None:
    label, pieces, details = client.predict(text="the crew was amazing but the food was awful",
                                            api_name="/explain")
    assert label["label"] in ("positive", "negative")
    weights = {w["word"]: w["weight"] for w in details["words"]}
    assert weights["amazing"] > 0 > weights["awful"]
    assert details["method"].startswith("exact")
    items = pieces["data"] if isinstance(pieces, dict) else pieces
    shown = [p for p in items if p["class_or_confidence"] is not None]
    assert len(shown) == len(details["words"])
    assert all(-1 <= p["class_or_confidence"] <= 1 for p in shown)
    with pytest.raises(AppError, match="empty"):
        client.predict(text=" ", api_name="/explain")


def test_review_queue_label_and_dataset_over_the_api(client: Client) -> None:
    ids = []
    for text in ("so so, not sure about this flight", "meh I guess it was fine"):
        served = client.predict(text=text, api_name="/predict")[1]
        ids.append(served["prediction_id"])  # reported wrong: at the top of the queue
        client.predict(text=text, predicted_label=served["label"], is_correct=False,
                       api_name="/feedback")
    queue = client.predict(api_name="/review_queue")
    listed = [row[queue["headers"].index("prediction_id")] for row in queue["data"]]
    assert set(ids) <= set(listed)
    assert "labelled" in client.predict(prediction_id=ids[0], label="positive",
                                        api_name="/label")
    with pytest.raises(AppError, match="positive"):
        client.predict(prediction_id=ids[1], label="maybe", api_name="/label")
    client.predict(prediction_id=ids[1], label="negative", api_name="/label")
    summary = client.predict(name="reviewed by the api", api_name="/review_to_dataset")
    assert summary["name"] == "reviewed by the api" and summary["rows_kept"] == 2
    assert summary["origin"] == "review queue"
    datasets = client.predict(api_name="/datasets")
    assert summary["dataset_id"] in {row[0] for row in datasets["data"]}
    queue = client.predict(api_name="/review_queue")
    assert not set(ids) & {row[queue["headers"].index("prediction_id")]
                           for row in queue["data"]}


def test_upload_takes_a_name(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "november tweets.csv"
    path.write_text("text,label\nlove it,positive\nhate it,negative\n")
    default = client.predict(file=handle_file(str(path)), api_name="/upload_training")
    named = client.predict(file=handle_file(str(path)), name="Holdout B",
                           api_name="/upload_validation")
    assert default["name"] == "november tweets" and named["name"] == "Holdout B"


def test_mlflow_ui_is_mounted_beside_the_app(app_server) -> None:
    import requests

    page = requests.get(app_server.url + "mlflow/", timeout=30)
    assert page.status_code == 200 and "<html" in page.text.lower()
    models = requests.get(app_server.url + "mlflow/ajax-api/2.0/mlflow/registered-models/search",
                          timeout=30)
    assert models.status_code == 200
    assert "tweet-sentiment" in {m["name"] for m in models.json()["registered_models"]}
