"""ui/rest.py: every REST route by who calls it (no token, viewer, admin, revoked,
expired), bad and oversized input, predictions that reach the monitoring store, feedback
that is verified, readiness, the open API and the rate limit.

The routes run in process behind the real door (``ui.security.Door``) and mount
(``ui.rest.Mount``) over a real trained model and a real store; what Gradio would answer
beside them is a plain 404 app here (the full server is in tests/e2e/test_api.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from sentiment.config import get_settings
from sentiment.monitoring.store import get_store
from sentiment.serving import access
from sentiment.serving.service import SentimentService
from ui import rest, security


async def _not_rest(scope: dict, receive: Any, send: Any) -> None:
    """Stands for Gradio's app behind the mount (everything that is not /api/v1)."""
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _client() -> tuple[TestClient, SentimentService]:
    service = SentimentService(get_settings())
    mounted = rest.Mount(_not_rest, factory=lambda: rest.create_app(get_settings,
                                                                    lambda: service))
    return TestClient(security.Door(mounted, settings=get_settings)), service


@pytest.fixture
def secured(monkeypatch: pytest.MonkeyPatch, trained: dict) -> Iterator[dict[str, Any]]:
    """A trained home with an admin password, and a token of every kind."""
    monkeypatch.setenv("SENTIMENT_ADMIN_PASSWORD", "admin-secret-1")
    store = get_store(get_settings())
    long_ago = time.time() - 3 * 86_400
    tokens = {"viewer": access.create(store, "viewer-bot", "viewer")["secret"],
              "admin": access.create(store, "admin-bot", "admin")["secret"],
              "revoked": access.create(store, "gone-bot", "admin")["secret"],
              "expired": access.create(store, "old-bot", "admin", expires_days=1,
                                       now=long_ago)["secret"]}
    access.revoke(store, "gone-bot")
    client, service = _client()
    yield {"client": client, "tokens": tokens, "service": service, "store": store}
    service.server.stop()


def _auth(secret: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"} if secret else {}


def test_every_route_answers_by_who_calls(secured: dict[str, Any]) -> None:
    client, tokens = secured["client"], secured["tokens"]
    served = client.post("/api/v1/predict", json={"texts": ["great crew"]},
                         headers=_auth(tokens["viewer"])).json()["predictions"][0]
    routes = {"predict": ("POST", "/api/v1/predict", {"texts": ["I love this airline"]}),
              "explain": ("POST", "/api/v1/explain", {"text": "lovely crew, late flight"}),
              "feedback": ("POST", "/api/v1/feedback",
                           {"prediction_id": served["prediction_id"], "is_correct": True}),
              "models": ("GET", "/api/v1/models", None),
              "triage": ("GET", "/api/v1/triage", None)}
    expected = {None: 401, "viewer": 200, "admin": 200, "revoked": 401, "expired": 401}
    for name, (method, path, body) in routes.items():
        for who, status in expected.items():
            if name == "triage" and who == "viewer":
                status = 403
            answer = client.request(method, path, json=body,
                                    headers=_auth(tokens.get(who) if who else None))
            assert answer.status_code == status, (name, who, answer.text)
            assert answer.headers["content-type"] == "application/json"
            if status == 401:
                assert answer.headers["www-authenticate"] == "Bearer"
                reason = {None: "Send an API token", "revoked": "'gone-bot' was revoked",
                          "expired": "'old-bot' has expired"}[who]
                assert reason in answer.json()["detail"]
    # What each route answers, as the OpenAPI schema says.
    viewer = _auth(tokens["viewer"])
    predicted = client.post("/api/v1/predict", json={"texts": ["I love it", "lost my bag"]},
                            headers=viewer).json()
    assert predicted["model"] == {"name": "tweet-sentiment",
                                  "version": secured["service"].server.version,
                                  "type": "tfidf_logreg"}
    assert [p["label"] for p in predicted["predictions"]] == ["positive", "negative"]
    explained = client.post("/api/v1/explain", json={"text": "lovely crew, late flight"},
                            headers=viewer).json()
    assert {w["word"] for w in explained["words"]} >= {"lovely", "late"}
    assert next(w for w in explained["words"] if w["word"] == "lovely")["weight"] > 0
    models = client.get("/api/v1/models", headers=viewer).json()["models"]
    assert [m["production"] for m in models] == [True]
    triage = client.get("/api/v1/triage", headers=_auth(tokens["admin"])).json()["triage"]
    assert "lost my bag" in [row["text"] for row in triage]
    # The probes and the docs need no token and tell nothing else.
    assert client.get("/api/v1/health").json() == {"status": "ok"}
    assert client.get("/api/v1/ready").json() == {"ready": True}
    schema = client.get("/api/v1/openapi.json").json()
    assert {"/api/v1/predict", "/api/v1/explain", "/api/v1/feedback", "/api/v1/models",
            "/api/v1/health", "/api/v1/ready"} <= set(schema["paths"])
    assert "Texts" in schema["components"]["schemas"]
    assert "swagger" in client.get("/api/v1/docs").text.lower()
    assert client.get("/").status_code == 404  # the rest is Gradio's, not the API's
    # The admin sees each token's last use; the failures are logged by the API.
    used = {r["name"]: r["last_used"] for r in access.tokens(secured["store"])}
    assert used["viewer-bot"] and used["admin-bot"] and not used["gone-bot"]


def test_bad_and_oversized_input_is_refused_and_changes_nothing(
        secured: dict[str, Any]) -> None:
    client, store = secured["client"], secured["store"]
    viewer = _auth(secured["tokens"]["viewer"])
    limit = get_settings().max_text_chars
    cases = [(b'{"texts": ["ok",', 422, "not valid JSON"),
             (b'{"text": "one"}', 422, "texts"),
             (b'{"texts": "one"}', 422, "texts"),
             (b'{"texts": []}', 422, "at least one text"),
             (b'{"texts": ["fine", "  "]}', 422, "Text 2 is empty"),
             (b'{"texts": [1, 2]}', 422, "texts"),
             (json.dumps({"texts": ["a"] * 1001}).encode(), 413, "at most 1,000"),
             (json.dumps({"texts": ["x" * (limit + 1)]}).encode(), 413,
              f"the limit is {limit:,}")]
    before = len(store.query("SELECT id FROM predictions"))
    for body, status, message in cases:
        answer = client.post("/api/v1/predict", content=body,
                             headers={**viewer, "content-type": "application/json"})
        assert answer.status_code == status, (body[:40], answer.text)
        assert message in answer.json()["detail"], answer.json()
    huge = b'{"texts": ["' + b"x" * (12 * 1024 * 1024) + b'"]}'
    answer = client.post("/api/v1/predict", content=huge,
                         headers={**viewer, "content-type": "application/json"})
    assert answer.status_code == 413 and "too large" in answer.json()["detail"]
    assert client.post("/api/v1/feedback", json={"prediction_id": 10**9, "is_correct": False},
                       headers=viewer).status_code == 404
    assert client.post("/api/v1/feedback", json={"prediction_id": "x", "is_correct": False},
                       headers=viewer).status_code == 422
    assert len(store.query("SELECT id FROM predictions")) == before
    assert len(store.query("SELECT id FROM feedback")) == 0


def test_rest_predictions_are_monitored_and_their_feedback_verified(
        secured: dict[str, Any]) -> None:
    client, store = secured["client"], secured["store"]
    viewer = _auth(secured["tokens"]["viewer"])
    texts = ["The crew was lovely", "Flight cancelled, no refund", "Bag lost again"]
    answer = client.post("/api/v1/predict", json={"texts": texts}, headers=viewer).json()
    ids = [p["prediction_id"] for p in answer["predictions"]]
    logged = store.query("SELECT id, text, label, proba_positive, source FROM predictions "
                         "ORDER BY id")
    mine = logged[logged["id"].isin(ids)]
    assert mine["text"].tolist() == texts and set(mine["source"]) == {"rest"}
    assert mine["label"].tolist() == [p["label"] for p in answer["predictions"]]
    first = client.post("/api/v1/feedback", json={"prediction_id": ids[1], "is_correct":
                                                  False}, headers=viewer).json()
    assert first["verified"] is True
    again = client.post("/api/v1/feedback", json={"prediction_id": ids[1], "is_correct":
                                                  False}, headers=viewer).json()
    assert again["verified"] is False  # one verified report per prediction
    row = store.query("SELECT prediction_id, corrected_label, verified FROM feedback "
                      "ORDER BY id").iloc[0]
    assert int(row["prediction_id"]) == ids[1] and int(row["verified"]) == 1
    assert row["corrected_label"] == ("positive" if answer["predictions"][1]["label"] ==
                                      "negative" else "negative")


def test_a_fault_is_an_error_id_never_a_traceback(secured: dict[str, Any], caplog,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The model failing in a way nobody planned for (injected: it cannot be provoked
    from outside) gives the caller an error id; the details go to the log."""
    def broken(texts: list[str]) -> None:
        raise RuntimeError("no such table at /srv/secret/monitoring.db")
    monkeypatch.setattr(secured["service"].server, "predict", broken)
    answer = secured["client"].post("/api/v1/predict", json={"texts": ["hello"]},
                                    headers=_auth(secured["tokens"]["viewer"]))
    assert answer.status_code == 500
    detail = answer.json()["detail"]
    assert "error id" in detail and "/srv" not in detail and "Traceback" not in answer.text
    error_id = detail.split("error id ")[1].split(")")[0]
    assert any(error_id in r.getMessage() for r in caplog.records)


def test_ready_is_503_without_a_model_and_says_why() -> None:
    client, service = _client()
    first = client.get("/api/v1/ready")
    assert first.status_code == 503 and first.json()["ready"] is False
    deadline = time.monotonic() + 30
    while "no production model" not in client.get("/api/v1/ready").json()["reason"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    answer = client.post("/api/v1/predict", json={"texts": ["hello"]})
    assert answer.status_code == 503 and "No production model" in answer.json()["detail"]
    assert client.get("/api/v1/health").status_code == 200
    service.server.stop()


def test_the_open_api_says_so_and_rate_limits_per_caller(
        trained: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIMENT_API_RATE_PER_MINUTE", "3")
    client, service = _client()
    answers = [client.post("/api/v1/predict", json={"texts": ["fine"]})
               for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert all(a.headers["x-sentiment-access"] == "open" for a in answers)
    assert int(answers[-1].headers["retry-after"]) >= 1
    assert "at most 3 a minute" in answers[-1].json()["detail"]
    service.server.stop()
