"""Admins vs viewers vs anonymous callers, checked over HTTP against the real app."""

import pytest
import requests
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError, AuthenticationError

from tests.conftest import AppServer

pytestmark = pytest.mark.slow
ADMIN = ("admin", "admin-secret-1")
VIEWER = ("ann", "viewer-pw")
ADMIN_CALLS = {
    "/upload_training": {"file": None}, "/upload_validation": {"file": None},
    "/train": {"model_type": "tfidf_logreg", "dataset_id": "x", "base_version": "",
               "hyperparameters": "{}"},
    "/validate": {"version": "1", "dataset_id": "x", "min_accuracy": 0.5, "auto_promote": False},
    "/promote": {"version": "1", "force": True}, "/rollback": {},
}


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory):
    server = AppServer(tmp_path_factory.mktemp("auth") / "home",
                       {"SENTIMENT_ADMIN_PASSWORD": ADMIN[1], "SENTIMENT_VIEWERS": "ann:viewer-pw"})
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def test_anonymous_http_callers_are_refused_everything(secured: AppServer) -> None:
    for name in ["predict", "rollback", "promote", "upload_training"]:
        answer = requests.post(f"{secured.url}gradio_api/call/{name}", json={"data": []},
                               timeout=10)
        assert answer.status_code == 401, name
    with pytest.raises(AuthenticationError):
        Client(secured.url, verbose=False)
    with pytest.raises((AuthenticationError, ValueError), match="login"):
        Client(secured.url, auth=("admin", "wrong-password"), verbose=False)


def test_viewer_predicts_but_is_refused_admin_endpoints(secured: AppServer, tmp_path) -> None:
    viewer = Client(secured.url, auth=VIEWER, verbose=False)
    text = "I love this airline, thank you so much!"
    label, details = viewer.predict(text=text, api_name="/predict")
    assert label["label"] == "positive" and details["version"] == "1"
    assert "recorded" in viewer.predict(text=text, predicted_label="positive", is_correct=True,
                                        api_name="/feedback")
    before = viewer.predict(api_name="/datasets")["data"]
    csv = tmp_path / "up.csv"
    csv.write_text("text,label\ngreat,1\nawful,0\n")
    for endpoint, kwargs in ADMIN_CALLS.items():
        if "file" in kwargs:
            kwargs = {"file": handle_file(str(csv))}
        with pytest.raises(AppError, match="Admin only: ann"):
            viewer.predict(**kwargs, api_name=endpoint)
    assert viewer.predict(api_name="/datasets")["data"] == before


def test_admin_may_run_admin_actions(secured: AppServer, tmp_path) -> None:
    admin = Client(secured.url, auth=ADMIN, verbose=False)
    with pytest.raises(AppError, match="nothing to roll back"):
        admin.predict(api_name="/rollback")  # allowed, refused only by the lifecycle rule
    csv = tmp_path / "up.csv"
    csv.write_text("text,label\ngreat,1\nawful,0\n")
    summary = admin.predict(file=handle_file(str(csv)), api_name="/upload_training")
    assert summary["rows_kept"] == 2
