"""Who may call what, for every Gradio handler of ``app.py``, and the login throttle.

Every event handler is wrapped by :func:`guarded` with the role it needs (``viewer``:
anyone signed in, or anyone in the open demo; ``admin``). The check runs on the server
for each call, so a raw HTTP call to a UI-only handler (by ``fn_index``) is refused
like one to a public endpoint. The wrapper also turns errors into user messages: the
messages of :class:`SentimentError` are meant for people and pass as they are; anything
else becomes a plain message with an error id, and the details go to the server log.

Failed sign-ins are throttled per client address and per user name (:class:`Throttle`):
after a few failures each further attempt is refused without checking the password,
for a delay that doubles with every failure, up to a temporary lock.
"""

from __future__ import annotations

import contextvars
import functools
import hmac
import inspect
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import gradio as gr

from sentiment.config import Settings
from sentiment.errors import SentimentError

log = logging.getLogger("security")
ROLES = ("viewer", "admin")
_client: contextvars.ContextVar[str] = contextvars.ContextVar("client", default="unknown")


def check_role(role: str, request: gr.Request | None, settings: Settings) -> str:
    """The caller's name, or a refusal when the caller may not use a ``role`` handler."""
    if not settings.auth_enabled:
        return "local"
    user = getattr(request, "username", None)
    if role == "admin" and user != settings.admin_user:
        raise gr.Error(f"Admin only: {user or 'an anonymous caller'} may not do this.",
                       print_exception=False)
    if user != settings.admin_user and user not in settings.viewers:
        raise gr.Error("Sign in first.", print_exception=False)
    return user


def _with_request(signature: inspect.Signature) -> inspect.Signature:
    """The signature plus a ``request: gr.Request`` parameter (before a Progress one)."""
    params = list(signature.parameters.values())
    at = next((i for i, p in enumerate(params) if isinstance(p.default, gr.Progress)),
              len(params))
    params.insert(at, inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                        default=None, annotation=gr.Request))
    return signature.replace(parameters=params)


def guarded(role: str, settings: Callable[[], Settings]) -> Callable[[Callable], Callable]:
    """Decorator: check the caller's ``role`` on every call, and make errors user-safe."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")

    def decorate(fn: Callable) -> Callable:
        own = inspect.signature(fn)
        takes_request = "request" in own.parameters
        signature = own if takes_request else _with_request(own)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            check_role(role, bound.arguments.get("request"), settings())
            if not takes_request:
                bound.arguments.pop("request", None)
            try:
                return fn(*bound.args, **bound.kwargs)
            except gr.Error:
                raise
            except SentimentError as exc:
                raise gr.Error(str(exc), print_exception=False) from exc
            except Exception as exc:
                raise internal_error(fn.__name__, exc) from exc

        wrapper.__signature__ = signature  # type: ignore[attr-defined]
        wrapper.__annotations__ = {**fn.__annotations__, "request": gr.Request}
        wrapper.role = role  # type: ignore[attr-defined]
        return wrapper
    return decorate


def internal_error(where: str, exc: BaseException) -> gr.Error:
    """Log an unexpected error with a fresh id; return the plain message for the user."""
    error_id = uuid.uuid4().hex[:10]
    log.error("error %s in %s", error_id, where, exc_info=exc)
    return gr.Error(f"Something went wrong on the server (error id {error_id}). Nothing was "
                    "changed by the failed step; give the id to the operator, who finds the "
                    "details in the server log.", print_exception=False)


class Throttle:
    """Failed sign-ins per key (a client address, a user name): after ``free`` failures
    each attempt is refused for ``base * 2 ** (failures - free)`` seconds, at most
    ``lock_s`` (the temporary lock). A success clears the key."""

    def __init__(self, free: int = 5, base: float = 1.0, lock_s: float = 900.0) -> None:
        self.free, self.base, self.lock_s = free, base, lock_s
        self._failures: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def wait_s(self, key: str, now: float | None = None) -> float:
        """Seconds before ``key`` may try again (0 when it may try now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            count, last = self._failures.get(key, (0, 0.0))
        if count < self.free:
            return 0.0
        delay = min(self.base * 2 ** (count - self.free), self.lock_s)
        return max(0.0, last + delay - now)

    def failed(self, key: str, now: float | None = None) -> int:
        """Record a failure; return the number of failures so far."""
        now = time.monotonic() if now is None else now
        with self._lock:
            count = self._failures.get(key, (0, 0.0))[0] + 1
            self._failures[key] = (count, now)
            if len(self._failures) > 100_000:  # bounded memory under a spray of names
                self._failures.pop(next(iter(self._failures)))
        return count

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


THROTTLE = Throttle()


def check_login(username: str, password: str, settings: Settings,
                throttle: Throttle = THROTTLE) -> bool:
    """Admin or viewer credentials (constant-time comparison), throttled per client and
    per user; a throttled attempt is refused without looking at the password."""
    keys = (f"client:{_client.get()}", f"user:{username}")
    waits = [throttle.wait_s(k) for k in keys]
    if max(waits) > 0:
        log.warning("sign-in refused (throttled %.0f s): user %r from %s", max(waits),
                    username, _client.get())
        return False
    expected = settings.admin_password if username == settings.admin_user else \
        settings.viewers.get(username)
    ok = expected is not None and hmac.compare_digest(password.encode(), expected.encode())
    if ok:
        for key in keys:
            throttle.succeeded(key)
        return True
    counts = [throttle.failed(k) for k in keys]
    log.warning("failed sign-in %d for user %r from %s", max(counts), username, _client.get())
    return False


class ClientAddress:
    """ASGI middleware: remembers the client address for :func:`check_login`, and answers
    429 with the wait at once to a client that is locked out of ``/login``."""

    def __init__(self, app: Any, throttle: Throttle = THROTTLE) -> None:
        self.app, self.throttle = app, throttle

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        token = _client.set(client)
        try:
            wait = self.throttle.wait_s(f"client:{client}")
            if scope.get("path", "").rstrip("/").endswith("/login") and wait > 0:
                await _too_many(send, wait)
                return
            await self.app(scope, receive, send)
        finally:
            _client.reset(token)


async def _too_many(send: Any, wait: float) -> None:
    body = json.dumps({"detail": f"Too many failed sign-ins from this address; try again "
                                 f"in {wait:.0f} s."}).encode()
    await send({"type": "http.response.start", "status": 429,
                "headers": [(b"content-type", b"application/json"),
                            (b"retry-after", str(int(wait) + 1).encode())]})
    await send({"type": "http.response.body", "body": body})


class AdminMount:
    """ASGI middleware: serve ``prefix`` from another app, to the admin only.

    The caller is the user of Gradio's own session cookie (the app in ``scope["app"]``
    keeps the tokens), so the mounted app (the MLflow UI) is behind the same sign-in
    as the admin actions; in the open demo (no password) anyone may use it, like them.
    The mounted app is built on its first request (``factory``).
    """

    def __init__(self, app: Any, prefix: str, factory: Callable[[], Any],
                 settings: Callable[[], Settings]) -> None:
        self.app, self.prefix, self.factory, self.settings = app, prefix, factory, settings
        self._mounted: Any = None
        self._lock = threading.Lock()

    def _user(self, scope: dict) -> str | None:
        gradio_app = scope.get("app")
        cookie_id = getattr(gradio_app, "cookie_id", None)
        tokens = getattr(gradio_app, "tokens", {}) or {}
        cookies: dict[str, str] = {}
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                for part in value.decode("latin-1").split(";"):
                    key, _, val = part.strip().partition("=")
                    cookies[key] = val
        for key in (f"access-token-{cookie_id}", f"access-token-unsecure-{cookie_id}"):
            if key in cookies and cookies[key] in tokens:
                return tokens[cookies[key]]
        return None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == self.prefix or
                                           path.startswith(self.prefix + "/")):
            await self.app(scope, receive, send)
            return
        settings = self.settings()
        if settings.auth_enabled and self._user(scope) != settings.admin_user:
            await _refuse(send, 403, b"Admin only: sign in to the app as the admin first.")
            return
        with self._lock:
            if self._mounted is None:
                self._mounted = self.factory()
        await self._mounted(scope, receive, send)


async def _refuse(send: Any, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
    await send({"type": "http.response.body", "body": body})
