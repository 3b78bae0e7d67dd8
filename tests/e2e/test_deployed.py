"""Issue 21: the app as it is deployed, not only on localhost: a real host name in the
``Host`` header, HTTPS-style cookies, other web sites' ``Origin``, hostile viewers.

One secured app server for the module (the tests only read, or change what they check
themselves). Requests carry ``Host: app.example.test`` unless a test says otherwise,
which is what a browser sends to a deployed app.
"""

from __future__ import annotations

import json
import threading
import time

import pandas as pd
import pytest
import requests
from gradio_client import Client

from tests.conftest import AppServer

pytestmark = pytest.mark.slow
ADMIN = ("admin", "admin-secret-1")
VIEWER = ("ann", "viewer-pw")
HOST = "app.example.test"
OWN = f"https://{HOST}"
EVIL = "https://evil.example"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    app = AppServer(tmp_path_factory.mktemp("deployed") / "home",
                    {"SENTIMENT_ADMIN_PASSWORD": ADMIN[1], "SENTIMENT_VIEWERS": "ann:viewer-pw",
                     "SENTIMENT_MAX_BODY_KB": "256", "SENTIMENT_UPLOAD_QUOTA_MB": "5"})
    try:
        app.wait_ready()
        yield app
    finally:
        app.stop()


def signed_in(server: AppServer, auth: tuple[str, str], host: str = HOST) -> requests.Session:
    """A browser-like session on the deployed host name, signed in as ``auth``."""
    session = requests.Session()
    session.headers.update({"Host": host, "Origin": f"https://{host}"})
    answer = session.post(f"{server.url}login", data={"username": auth[0],
                                                      "password": auth[1]}, timeout=10)
    assert answer.ok, answer.text
    for cookie in list(session.cookies):  # the secure cookie is sent over HTTPS: here too
        cookie.secure = False
    return session


def call(session: requests.Session, server: AppServer, fn: str, data: list,
         origin: str | None = None) -> tuple[int, dict]:
    """Join the queue for a handler by its fn_index, as a hostile script would, and read
    its final event. Returns (HTTP status of the join, final event or {})."""
    config = session.get(f"{server.url}config", timeout=10).json()
    index = next(d["id"] for d in config["dependencies"]
                 if d.get("api_name") == fn or d.get("name") == fn)
    headers = {"Origin": origin} if origin else {}
    joined = session.post(f"{server.url}gradio_api/queue/join", headers=headers, timeout=10,
                          json={"data": data, "fn_index": index, "session_hash": f"h-{fn}",
                                "event_data": None, "trigger_id": None})
    if not joined.ok:
        return joined.status_code, {}
    with session.get(f"{server.url}gradio_api/queue/data?session_hash=h-{fn}", stream=True,
                     timeout=60) as stream:
        for line in stream.iter_lines():
            if line.startswith(b"data:"):
                event = json.loads(line[5:])
                if event.get("msg") == "process_completed":
                    return joined.status_code, event
    raise AssertionError("no answer")


def test_no_handler_turns_caller_data_into_a_file(server: AppServer) -> None:
    """21.1: a viewer called the gallery with figures naming mlflow.db and got it back."""
    home = server.home
    secrets = [str(home / "mlflow.db"), str(home / "monitoring.db"), str(home.parent),
               str(server.log_path), "app.py", "/etc/passwd"]
    forged = {"version": "1", "datasets": [{"validation_run_id": "x", "dataset": "d",
                                            "figures": secrets}]}
    for auth in (VIEWER, ADMIN):
        session = signed_in(server, auth)
        _, event = call(session, server, "validation_gallery", [forged])
        output = json.dumps(event.get("output", {}))
        assert "mlflow.db" not in output and "passwd" not in output, output
        for handler in ("batch_preview", "predict_batch"):
            forged_file = {"path": str(home / "mlflow.db"), "meta": {"_type": "gradio.FileData"}}
            _, event = call(session, server, handler, [forged_file])
            output = event.get("output", {})
            assert not output.get("data") or "mlflow" not in json.dumps(output["data"]), output
        for path in secrets + [str(home / ".." / "home" / "mlflow.db")]:
            answer = session.get(f"{server.url}gradio_api/file={path}", timeout=10)
            assert answer.status_code in (403, 404), (path, answer.status_code)


def test_a_real_validation_shows_its_figures_from_the_server(server: AppServer) -> None:
    """The gallery still works: it reads the caller's own last validation, on the server."""
    admin = Client(server.url, auth=ADMIN, verbose=False)
    datasets = admin.predict(api_name="/datasets")
    rows = datasets["data"]
    val_id = next(r[0] for r in rows if "validation" in json.dumps(r))
    result = admin.predict(version="1", dataset_id=val_id, min_accuracy=0.5, auto_promote=False,
                           api_name="/validate")
    assert result["datasets"][0]["figures"]


def test_other_web_sites_can_neither_act_nor_read(server: AppServer) -> None:
    """21.2: a cross-origin POST with the admin's cookie ran a forced promotion, and the
    answer was readable by that origin."""
    admin = signed_in(server, ADMIN)
    for path, body in (("gradio_api/call/promote", {"data": ["1", True]}),
                       ("gradio_api/call/review_queue", {"data": []}),
                       ("gradio_api/queue/join", {"data": [], "fn_index": 0,
                                                  "session_hash": "x"}),
                       ("login", None)):
        answer = admin.post(f"{server.url}{path}", headers={"Origin": EVIL}, timeout=10,
                            **({"json": body} if body else {"data": {"username": "admin",
                                                                     "password": ADMIN[1]}}))
        assert answer.status_code == 403, (path, answer.status_code)
        assert "access-control-allow-origin" not in answer.headers, path
    same = admin.post(f"{server.url}gradio_api/call/models", json={"data": []}, timeout=10)
    assert same.ok and "event_id" in same.json()
    preflight = admin.options(f"{server.url}gradio_api/call/promote", timeout=10, headers={
        "Origin": EVIL, "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers  # the browser stops there


def test_session_cookies_are_same_site_lax(server: AppServer) -> None:
    session = requests.Session()
    answer = session.post(f"{server.url}login", headers={"Host": HOST, "Origin": OWN},
                          data={"username": ADMIN[0], "password": ADMIN[1]}, timeout=10)
    cookies = answer.headers.get("set-cookie", "")
    assert cookies.count("SameSite=Lax") == 2 and "SameSite=none" not in cookies.lower()


def rss(pid: int) -> int:
    """Resident memory of a process, in bytes (Linux)."""
    from pathlib import Path

    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) * 1024


def test_bodies_are_limited_before_they_are_read(server: AppServer) -> None:
    """21.3: six anonymous 200 MB posts took the server from 489 MB to 2 GB."""
    before = rss(server.process.pid)
    big = b"x" * (40 * 1024 * 1024)
    answers = []

    def post(session: requests.Session) -> None:
        answers.append(session.post(f"{server.url}gradio_api/queue/join", data=big, timeout=60,
                                    headers={"Content-Type": "application/json"}).status_code)
    anonymous = [requests.Session() for _ in range(4)]
    viewer = signed_in(server, VIEWER)
    threads = [threading.Thread(target=post, args=(s,)) for s in [*anonymous, viewer]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [401, 401, 401, 401, 413]
    assert rss(server.process.pid) - before < 60 * 1024 * 1024
    login = requests.post(f"{server.url}login", data={"username": "a" * 100_000,
                                                      "password": "b"}, timeout=10)
    assert login.status_code == 413
    started = time.perf_counter()
    label, _ = Client(server.url, auth=VIEWER, verbose=False).predict(
        text="great flight", api_name="/predict")
    assert label["label"] in ("positive", "negative") and time.perf_counter() - started < 30


def test_viewers_get_no_other_users_texts(server: AppServer) -> None:
    """21.5: /monitoring showed the admin's texts in latest_alerts to a viewer."""
    admin = Client(server.url, auth=ADMIN, verbose=False)
    secret = "CONFIDENTIAL customer 4471 wants a refund"
    for _ in range(3):
        label, _ = admin.predict(text=secret, api_name="/predict")
        admin.predict(text=secret, predicted_label=label["label"], is_correct=False,
                      api_name="/feedback")
    admin_view = admin.predict(api_name="/monitoring")
    assert secret in json.dumps(admin_view)
    viewer = Client(server.url, auth=VIEWER, verbose=False)
    viewed = viewer.predict(api_name="/monitoring")
    assert viewed["alerts"] >= 1 and secret not in json.dumps(viewed, ensure_ascii=False)
    for name in ("/datasets", "/models"):
        assert secret not in json.dumps(viewer.predict(api_name=name))
    session = signed_in(server, VIEWER)
    assert session.get(f"{server.url}monitoring/summary", timeout=10).status_code == 404


def test_the_mlflow_ui_answers_the_admin_on_a_real_domain(server: AppServer) -> None:
    """21.11: MLflow's host check answered 403 Invalid Host header on any domain."""
    admin = signed_in(server, ADMIN)
    url = f"{server.url}mlflow/ajax-api/2.0/mlflow/registered-models/search"
    assert admin.get(url, timeout=30).status_code == 200
    posted = admin.post(f"{server.url}mlflow/ajax-api/2.0/mlflow/runs/search", timeout=30,
                        json={"experiment_ids": ["0"], "max_results": 1})
    assert posted.status_code == 200, posted.text[:300]
    assert signed_in(server, VIEWER).get(url, timeout=30).status_code == 403


def test_logout_ends_this_session_only(server: AppServer) -> None:
    """21.13: GET /logout ended all of the user's sessions."""
    first, second = signed_in(server, VIEWER), signed_in(server, VIEWER)
    assert first.get(f"{server.url}logout", timeout=10, allow_redirects=False).status_code == 302
    assert first.post(f"{server.url}gradio_api/call/models", json={"data": []},
                      timeout=10).status_code == 401
    assert second.post(f"{server.url}gradio_api/call/models", json={"data": []},
                       timeout=10).ok


def test_invisible_texts_and_names_and_duplicates(server: AppServer, tmp_path) -> None:
    """21.13: a NUL text got a label; names kept NUL and RTL overrides; identical uploads
    made datasets nobody could tell apart."""
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    viewer = Client(server.url, auth=VIEWER, verbose=False)
    for text in ("\x00", " \u200b\u202e "):
        with pytest.raises(AppError, match="empty"):
            viewer.predict(text=text, api_name="/predict")
    admin = Client(server.url, auth=ADMIN, verbose=False)
    csv = tmp_path / "dup.csv"
    csv.write_text("text,label\nlovely crew,1\nlost my bag,0\nso late again,0\nthanks!,1\n")
    first = admin.predict(file=handle_file(str(csv)), name="\u202ereview\x00 week  1 ",
                          api_name="/upload_training")
    assert first["name"] == "review week 1"
    with pytest.raises(AppError, match="already recorded"):
        admin.predict(file=handle_file(str(csv)), name="again", api_name="/upload_training")
    names = [r for r in admin.predict(api_name="/datasets")["data"] if "again" in json.dumps(r)]
    assert names == []


def test_large_batch_files_run_in_their_own_lane_one_per_user(server: AppServer, corpus,
                                                              tmp_path) -> None:
    """21.10: one viewer's two 200k-row batches stalled everyone's predictions; large
    files are now scored in a child process, one file per user at a time."""
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    big = tmp_path / "big.csv"
    frame = corpus.sample(n=8000, replace=True, random_state=3)[["text"]]
    frame.to_csv(big, index=False)
    assert big.stat().st_size > 512 * 1024
    viewer = Client(server.url, auth=VIEWER, verbose=False)
    jobs = [viewer.submit(file=handle_file(str(big)), api_name="/predict_batch")
            for _ in range(2)]
    outcomes = []
    for job in jobs:
        try:
            outcomes.append(job.result(timeout=300))
        except AppError as exc:
            outcomes.append(str(exc))
    done = [o for o in outcomes if isinstance(o, tuple | list)]
    refused = [o for o in outcomes if isinstance(o, str)]
    assert len(done) == 1 and len(refused) == 1, outcomes
    assert "already have a batch file" in refused[0]
    path, summary = done[0]
    assert summary["lane"] == "batch process" and summary["rows"] == 8000
    scored = pd.read_csv(path)
    assert set(scored["label"]) <= {"positive", "negative"} and len(scored) == 8000
    other = Client(server.url, auth=ADMIN, verbose=False)  # another user is not held back
    label, _ = other.predict(text="lovely", api_name="/predict")
    assert label["label"] in ("positive", "negative")


def test_each_user_has_an_upload_quota(server: AppServer) -> None:
    """21.6: one viewer uploaded 20 x 49 MB (+980 MB of disk). Here the quota is 5 MB per
    user: the viewer is refused before going past it, and another user still uploads."""
    viewer, admin = signed_in(server, VIEWER), signed_in(server, ADMIN)
    chunk = b"text\n" + b"x" * (2 * 1024 * 1024)
    answers = [viewer.post(f"{server.url}gradio_api/upload", timeout=30,
                           files={"files": (f"part-{i}.csv", chunk, "text/csv")})
               for i in range(4)]
    codes = [a.status_code for a in answers]
    assert codes.count(200) <= 2 and 413 in codes, codes
    assert "Upload quota reached" in answers[codes.index(413)].text
    assert admin.post(f"{server.url}gradio_api/upload", timeout=30,
                      files={"files": ("admin.csv", chunk, "text/csv")}).status_code == 200


def test_forwarded_addresses_are_not_believed(server: AppServer) -> None:
    """21.9: rotating X-Forwarded-For gave 30 failures and never a 429. (Last in the
    module: it locks this machine's address out for a while.)"""
    codes = [requests.post(f"{server.url}login", timeout=10,
                           headers={"X-Forwarded-For": f"203.0.113.{i}"},
                           data={"username": "mallory", "password": f"guess-{i}"}).status_code
             for i in range(8)]
    assert 429 in codes, codes
