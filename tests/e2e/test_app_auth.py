"""Admins vs viewers vs anonymous callers, checked over HTTP against the real app."""

import json

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
    "/review_queue": {}, "/label": {"prediction_id": 1, "label": "positive"},
    "/review_to_dataset": {"name": "reviewed"},
    "/triage": {}, "/handled": {"prediction_id": 1},
    "/token_create": {"name": "sneaky", "role": "admin"}, "/token_list": {},
    "/token_revoke": {"name": "sneaky"},
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


def test_the_admin_triages_what_a_viewer_was_told(secured: AppServer) -> None:
    """Issue 26.3: the viewer's angry text is on the admin's triage list, angriest first;
    /handled takes it off; a made-up id is refused with a message."""
    viewer = Client(secured.url, auth=VIEWER, verbose=False)
    angry = "You lost my luggage AGAIN and nobody answers the phone. Worst airline ever."
    label, details = viewer.predict(text=angry, api_name="/predict")
    assert label["label"] == "negative"
    admin = Client(secured.url, auth=ADMIN, verbose=False)
    listed = admin.predict(api_name="/triage")
    rows = [dict(zip(listed["headers"], row, strict=True)) for row in listed["data"]]
    mine = [r for r in rows if r["text"] == angry]
    assert mine and mine[0]["channel"] == "api"
    confidences = [r["negative_confidence"] for r in rows]
    assert confidences == sorted(confidences, reverse=True)
    answer = admin.predict(prediction_id=mine[0]["prediction_id"], api_name="/handled")
    assert "leaves the triage list" in answer
    after = admin.predict(api_name="/triage")
    assert angry not in [row[listed["headers"].index("text")] for row in after["data"]]
    with pytest.raises(AppError, match="no prediction with id 99999"):
        admin.predict(prediction_id=99999, api_name="/handled")


def _call_by_index(server: AppServer, auth: tuple[str, str], fn_name: str) -> str:
    """Call a UI-only handler (no api_name) the way a hostile script would: log in over
    HTTP, then join the queue with its fn_index. Returns the server's final message."""
    session = requests.Session()
    assert session.post(f"{server.url}login", data={"username": auth[0],
                                                     "password": auth[1]}).ok
    config = session.get(f"{server.url}config", timeout=10).json()
    index = next(d["id"] for d in config["dependencies"]
                 if d.get("api_name") == fn_name or d.get("name") == fn_name)
    joined = session.post(f"{server.url}gradio_api/queue/join",
                          json={"data": [], "fn_index": index, "session_hash": "hostile1",
                                "event_data": None, "trigger_id": None}, timeout=10)
    assert joined.ok, joined.text
    with session.get(f"{server.url}gradio_api/queue/data?session_hash=hostile1",
                     stream=True, timeout=60) as stream:
        for line in stream.iter_lines():
            if line.startswith(b"data:"):
                event = json.loads(line[5:])
                if event.get("msg") == "process_completed":
                    return json.dumps(event.get("output", {}))
    raise AssertionError("no answer")


@pytest.mark.parametrize("handler", ["export_log", "export_corrections", "monitor_views",
                                     "review_view"])
def test_ui_only_handlers_check_the_caller_too(secured: AppServer, handler: str) -> None:
    """Issue 9.12: viewers could download every user's texts through the export buttons."""
    anonymous = requests.post(f"{secured.url}gradio_api/queue/join",
                              json={"data": [], "fn_index": 0, "session_hash": "anon1"},
                              timeout=10)
    assert anonymous.status_code == 401
    refused = json.loads(_call_by_index(secured, VIEWER, handler))
    assert refused.get("error") == "Admin only: ann may not do this." and "data" not in refused
    allowed = json.loads(_call_by_index(secured, ADMIN, handler))
    assert allowed.get("data") and not allowed.get("error")


def test_mlflow_ui_is_for_the_admin_only(secured: AppServer) -> None:
    """The mounted MLflow UI (runs, datasets, every version) is behind the admin sign-in."""
    url = f"{secured.url}mlflow/ajax-api/2.0/mlflow/registered-models/search"
    assert requests.get(url, timeout=30).status_code == 403
    for auth, expected in ((VIEWER, 403), (ADMIN, 200)):
        session = requests.Session()
        assert session.post(f"{secured.url}login", data={"username": auth[0],
                                                         "password": auth[1]}).ok
        assert session.get(url, timeout=30).status_code == expected, auth[0]


def test_wrong_passwords_are_throttled_and_logged(secured: AppServer) -> None:
    """Issue 9.13: after 5 failures the client waits, longer each time; a right password
    in the meantime is refused too, and every failure is in the server log."""
    answers = [requests.post(f"{secured.url}login", data={"username": "admin",
                                                          "password": f"guess-{i}"},
                             timeout=10).status_code for i in range(8)]
    assert answers[:5] == [400] * 5
    assert 429 in answers[5:], answers  # the address is locked out at once
    locked = requests.post(f"{secured.url}login", data={"username": "admin",
                                                        "password": ADMIN[1]}, timeout=10)
    assert locked.status_code in (400, 429)
    assert "failed sign-in" in secured.log_path.read_text()
