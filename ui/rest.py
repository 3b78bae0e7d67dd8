"""The REST API for programs, beside Gradio on the same port: ``/api/v1/``.

A CRM hook, a stream consumer or a notebook calls plain JSON routes instead of Gradio's
queue (docs/api.md): predict (1 to 1,000 texts), explain, feedback by prediction id, the
models table, the triage list (admin), and the two probes a load balancer needs
(``health``: the process answers; ``ready``: a production model is loaded, 503 with the
reason otherwise). OpenAPI at ``/api/v1/openapi.json``, interactive docs at
``/api/v1/docs``.

With an admin password set, every route but the probes and the docs needs
``Authorization: Bearer <token>`` (:mod:`sentiment.serving.access`); without one the API
is open like the app, and every answer says so in ``X-Sentiment-Access: open``. Each
caller (a token, or an address in the open API) is held to
``SENTIMENT_API_RATE_PER_MINUTE``. Predictions are logged and monitored like the UI's
(channel ``rest``). Errors are JSON ``{"detail": message}`` with their status: 401/403
(who), 413 (too large), 422 (bad input), 429 (too many, with ``Retry-After``), 503 (no
model yet); an unexpected one gets an error id, never a traceback.

:class:`Mount` puts this app in front of Gradio's (an ASGI middleware of the launch),
so the :class:`ui.security.Door` in front of both still refuses other sites' origins and
oversized bodies.
"""

from __future__ import annotations

import logging
import math
import threading
import uuid
from collections.abc import Callable
from typing import Any, Literal

import anyio
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field

from sentiment.config import Settings
from sentiment.errors import NoProductionError, NotFoundError, SentimentError
from sentiment.monitoring.store import get_store
from sentiment.serving import access
from sentiment.serving.service import SentimentService
from ui.security import bearer

log = logging.getLogger("api")
PREFIX = "/api/v1"
MAX_TEXTS = 1000
OPEN = (b"x-sentiment-access", b"open")


class Problem(Exception):
    """An answer other than 200, with its status and message (and extra headers)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None
                 ) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


# ---- typed bodies (the OpenAPI schema) --------------------------------------------------


class Texts(BaseModel):
    texts: list[str] = Field(description=f"1 to {MAX_TEXTS:,} texts, each within the "
                             "text limit (SENTIMENT_MAX_TEXT_CHARS).",
                             examples=[["I love this airline", "My bag is lost again"]])


class ModelInfo(BaseModel):
    name: str
    version: str
    type: str


class Prediction(BaseModel):
    label: Literal["positive", "negative"]
    proba_positive: float
    prediction_id: int | None = Field(description="Give it back with feedback; null "
                                      "when the prediction log is unavailable.")


class Predictions(BaseModel):
    model: ModelInfo
    predictions: list[Prediction]


class Text(BaseModel):
    text: str = Field(examples=["The crew was lovely but the flight was late"])


class Word(BaseModel):
    word: str
    weight: float = Field(description="> 0 pushes towards positive, < 0 towards negative")


class Explanation(BaseModel):
    label: Literal["positive", "negative"]
    proba_positive: float
    model: ModelInfo
    method: str
    words: list[Word]


class FeedbackIn(BaseModel):
    prediction_id: int = Field(description="The prediction_id a predict call returned.")
    is_correct: bool
    corrected_label: Literal["positive", "negative"] | None = None
    comment: str | None = Field(None, max_length=1000)


class FeedbackOut(BaseModel):
    feedback_id: int
    verified: bool
    alert_raised: bool
    message: str


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    ready: bool
    reason: str | None = Field(None, description="Why not, when not ready")


class Error(BaseModel):
    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Error, "description": text} for code, text in (
        (401, "No token, or an unknown, revoked or expired one"),
        (403, "The token's role may not do this"), (413, "Too many or too long texts"),
        (422, "Bad input"), (429, "Too many requests for this token (see Retry-After)"),
        (503, "No production model loaded yet"))}


# ---- the app ----------------------------------------------------------------------------


def create_app(settings: Callable[[], Settings],
               service: Callable[[], SentimentService]) -> FastAPI:
    """The REST app over the process's prediction service."""
    app = FastAPI(title="Tweet sentiment API", version="1",
                  description="Sentiment of tweets and reviews: positive or negative, "
                              "with the probability. Send `Authorization: Bearer <token>` "
                              "(tokens: `python -m admin token create NAME --role viewer`).",
                  openapi_url=f"{PREFIX}/openapi.json", docs_url=f"{PREFIX}/docs",
                  redoc_url=None)
    limiter = access.RateLimiter(settings().api_rate_per_minute)
    loader = Loader(service)

    def caller(request: Request, role: str) -> str:
        """Who calls (a token's name, or the address in the open API), after the checks
        of the route's ``role`` and the rate limit."""
        current = settings()
        address = request.client.host if request.client else "?"
        if not current.auth_enabled:
            who = f"address:{address}"
        else:
            secret = bearer(request.headers)
            if not secret:
                log.warning("API: refused %s %s from %s: no token", request.method,
                            request.url.path, address)
                raise Problem(401, "Send an API token: Authorization: Bearer <token>.",
                              {"WWW-Authenticate": "Bearer"})
            try:
                found = access.authenticate(get_store(current), secret)
            except access.TokenRefused as exc:
                log.warning("API: refused %s %s from %s: %s", request.method,
                            request.url.path, address, exc)
                raise Problem(401, str(exc), {"WWW-Authenticate": "Bearer"}) from exc
            if role == "admin" and found.role != "admin":
                log.warning("API: refused %s %s to viewer token %r", request.method,
                            request.url.path, found.name)
                raise Problem(403, f"The token {found.name!r} is a viewer token: this "
                                   "needs an admin token.")
            who = found.user
        wait = limiter.allow(who)
        if wait > 0:
            log.warning("API: rate limit for %s", who)
            raise Problem(429, f"Too many requests: at most {limiter.per_minute:,} a minute "
                               f"per token; retry in {wait:.1f} s.",
                          {"Retry-After": str(max(1, math.ceil(wait)))})
        return who

    async def run(request: Request, role: str, work: Callable[[str], Any]) -> Response:
        """Check the caller and do the work in one trip to the thread pool (the store and
        the model block); errors become their status and message here, at the edge."""
        def both() -> Any:
            return work(caller(request, role))
        try:
            return _json(200, await anyio.to_thread.run_sync(both), settings())
        except Problem as exc:
            return _json(exc.status, {"detail": exc.message}, settings(), exc.headers)
        except NoProductionError as exc:
            return _json(503, {"detail": str(exc)}, settings())
        except NotFoundError as exc:
            return _json(404, {"detail": str(exc)}, settings())
        except SentimentError as exc:
            return _json(422, {"detail": str(exc)}, settings())
        except Exception as exc:  # noqa: BLE001 - the caller gets an id, the log the rest
            error_id = uuid.uuid4().hex[:10]
            log.error("API error %s on %s", error_id, request.url.path, exc_info=exc)
            return _json(500, {"detail": f"Something went wrong on the server (error id "
                                         f"{error_id}); the details are in its log."},
                         settings())

    def sized(texts: list[str]) -> list[str]:
        limit = settings().max_text_chars
        if len(texts) > MAX_TEXTS:
            raise Problem(413, f"{len(texts):,} texts: send at most {MAX_TEXTS:,} per "
                               "request.")
        for number, text in enumerate(texts, 1):
            if len(text) > limit:
                raise Problem(413, f"Text {number} is {len(text):,} characters; the limit "
                                   f"is {limit:,}.")
        return texts

    @app.post(f"{PREFIX}/predict", response_model=Predictions, responses=ERRORS,
              tags=["predict"], summary="Sentiment of 1 to 1,000 texts")
    async def predict(body: Texts, request: Request) -> Response:
        def work(_who: str) -> dict[str, Any]:
            answer = service().predict_many(sized(body.texts), source="rest")
            answer.pop("logging", None)
            return answer
        return await run(request, "viewer", work)

    @app.post(f"{PREFIX}/explain", response_model=Explanation, responses=ERRORS,
              tags=["predict"], summary="Each word's weight in the label of one text")
    async def explain(body: Text, request: Request) -> Response:
        def work(_who: str) -> dict[str, Any]:
            result = service().explain(sized([body.text])[0])
            return {"label": result["label"], "proba_positive": result["proba_positive"],
                    "model": {"name": settings().model_name, "version": result["version"],
                              "type": result["model_type"]},
                    "method": result["method"],
                    "words": [{"word": w, "weight": round(float(x), 6)}
                              for w, x in zip(result["tokens"], result["weights"])]}
        return await run(request, "viewer", work)

    @app.post(f"{PREFIX}/feedback", response_model=FeedbackOut, responses=ERRORS,
              tags=["predict"], summary="Say whether a served prediction was right")
    async def feedback(body: FeedbackIn, request: Request) -> Response:
        def work(_who: str) -> dict[str, Any]:
            result = service().feedback_on(body.prediction_id, body.is_correct,
                                           body.corrected_label, body.comment)
            return {k: result[k] for k in ("feedback_id", "verified", "alert_raised",
                                           "message")}
        return await run(request, "viewer", work)

    @app.get(f"{PREFIX}/models", responses=ERRORS, tags=["models"],
             summary="The model versions, the production one flagged")
    async def models(request: Request) -> Response:
        from sentiment import lifecycle

        return await run(request, "viewer", lambda _who: {
            "models": lifecycle.models_table(settings())})

    @app.get(f"{PREFIX}/triage", responses=ERRORS, tags=["monitoring"],
             summary="Recent negative texts, most confident first (admin)")
    async def triage(request: Request, limit: int = 100) -> Response:
        from sentiment.monitoring.triage import triage as rows

        if not 1 <= limit <= 1000:
            return _json(422, {"detail": "limit is between 1 and 1000."}, settings())
        return await run(request, "admin", lambda _who: {
            "triage": rows(settings(), limit).to_dict(orient="records")})

    @app.get(f"{PREFIX}/health", response_model=Health, tags=["probes"],
             summary="The process answers (liveness)")
    async def health() -> Response:
        return _json(200, {"status": "ok"}, settings())

    @app.get(f"{PREFIX}/ready", response_model=Ready, tags=["probes"],
             responses={503: {"model": Ready, "description": "No model loaded yet"}},
             summary="A production model is loaded (readiness)")
    async def ready() -> Response:
        state = loader.state()
        return _json(200 if state["ready"] else 503, state, settings())

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> Response:
        return _json(422, {"detail": _readable(exc)}, settings())

    return app


def _readable(exc: RequestValidationError) -> str:
    """One sentence from pydantic's errors (bad JSON, a missing or mistyped field)."""
    parts = []
    for error in exc.errors()[:3]:
        if error.get("type") == "json_invalid":
            return "Bad request: the body is not valid JSON."
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return "Bad request: " + "; ".join(parts) + "."


def _json(status: int, payload: Any, settings: Settings,
          headers: dict[str, str] | None = None) -> Response:
    response = Response(orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY),
                        status_code=status, media_type="application/json",
                        headers=headers)
    if not settings.auth_enabled:
        response.raw_headers.append(OPEN)
    return response


class Loader:
    """Readiness: loaded, or why not; a replica that has no model yet (none in
    production at its start, or the registry was down) starts loading in the
    background on the probe, so the load balancer's checks bring it in."""

    def __init__(self, service: Callable[[], SentimentService]) -> None:
        self.service = service
        self._thread: threading.Thread | None = None
        self._reason = "the production model is loading"
        self._lock = threading.Lock()

    def state(self) -> dict[str, Any]:
        server = self.service().server
        if server.loaded:
            return {"ready": True}
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._load, daemon=True,
                                                name="ready-load")
                self._thread.start()
            return {"ready": False, "reason": self._reason}

    def _load(self) -> None:
        try:
            self.service().server.snapshot()
        except NoProductionError:
            self._reason = "no production model yet"
        except SentimentError as exc:
            self._reason = f"the production model cannot be loaded: {exc}"
        except Exception as exc:  # noqa: BLE001 - the reason is what the probe reports
            log.exception("readiness load failed")
            self._reason = f"the production model cannot be loaded ({type(exc).__name__})"


class Mount:
    """ASGI middleware: requests under ``/api/v1`` go to the REST app (built on first
    use), everything else to Gradio."""

    def __init__(self, app: Any, factory: Callable[[], Any]) -> None:
        self.app, self.factory = app, factory
        self._rest: Any = None
        self._lock = threading.Lock()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope.get("type") == "http" and (path == PREFIX or path.startswith(PREFIX + "/")):
            if self._rest is None:
                with self._lock:
                    if self._rest is None:
                        self._rest = self.factory()
            await self._rest(scope, receive, send)
            return
        await self.app(scope, receive, send)

