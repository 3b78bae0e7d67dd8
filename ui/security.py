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
import errno
import functools
import hashlib
import hmac
import inspect
import json
import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

import gradio as gr

from sentiment.config import Settings
from sentiment.errors import SentimentError
from sentiment.infra import processes, results
from sentiment.monitoring.store import get_store
from sentiment.serving import access

log = logging.getLogger("security")
ROLES = ("viewer", "admin")
_client: contextvars.ContextVar[str] = contextvars.ContextVar("client", default="unknown")


def check_role(role: str, request: gr.Request | None, settings: Settings) -> str:
    """The caller's name, or a refusal when the caller may not use a ``role`` handler."""
    if not settings.auth_enabled:
        return "local"
    user = getattr(request, "username", None)
    secret = "" if user is not None else bearer(getattr(request, "headers", None) or {})
    if secret:
        try:  # a program's API token (an MCP tool call carries the agent's token)
            caller = access.authenticate(get_store(settings), secret)
        except access.TokenRefused as exc:
            raise gr.Error(str(exc), print_exception=False) from exc
        if role == "admin" and caller.role != "admin":
            raise gr.Error(f"Admin only: the token {caller.name!r} is a viewer token.",
                           print_exception=False)
        return caller.user
    if role == "admin" and user != settings.admin_user:
        raise gr.Error(f"Admin only: {user or 'an anonymous caller'} may not do this.",
                       print_exception=False)
    if user != settings.admin_user and user not in settings.viewers:
        raise gr.Error("Sign in first.", print_exception=False)
    return user


def bearer(headers: Any) -> str:
    """The secret of an ``Authorization: Bearer`` header ('' when there is none)."""
    scheme, _, secret = str(headers.get("authorization", "")).partition(" ")
    return secret.strip() if scheme.lower() == "bearer" else ""


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
    if disk_full(exc):
        return gr.Error(f"The server's disk is full (error id {error_id}): nothing was "
                        "changed by the failed step. Predictions still work; the operator "
                        "must free space before anything can be recorded.",
                        print_exception=False)
    return gr.Error(f"Something went wrong on the server (error id {error_id}). Nothing was "
                    "changed by the failed step; give the id to the operator, who finds the "
                    "details in the server log.", print_exception=False)


def disk_full(exc: BaseException | None) -> bool:
    """Whether an error (or one it came from) says the disk or database is full."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            return True
        if "database or disk is full" in str(exc) or "No space left on device" in str(exc):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


class Throttle:
    """Failed sign-ins per key (a client address, a user name): after ``free`` failures
    each attempt is refused for ``base * 2 ** (failures - free)`` seconds, at most
    ``lock_s`` (the temporary lock). A success clears the key."""

    def __init__(self, free: int = 5, base: float = 1.0, lock_s: float = 900.0,
                 max_keys: int = 100_000) -> None:
        self.free, self.base, self.lock_s, self.max_keys = free, base, lock_s, max_keys
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
            if len(self._failures) > self.max_keys:
                self._evict(now)
        return count

    def count(self, key: str) -> int:
        """Failures recorded for ``key`` (0 for a clean key)."""
        with self._lock:
            return self._failures.get(key, (0, 0.0))[0]

    def _evict(self, now: float) -> None:
        """Bounded memory under a spray of names or addresses: keys that no longer hold
        anyone back go first, then those below the free failures, oldest first; a key
        that is locked right now is never freed to make room."""
        def waiting(item: tuple[str, tuple[int, float]]) -> bool:
            count, last = item[1]
            return count >= self.free and \
                last + min(self.base * 2 ** (count - self.free), self.lock_s) > now
        idle = [k for k, v in self._failures.items() if not waiting((k, v))]
        for key in idle[:max(len(self._failures) - self.max_keys, len(idle) // 2)]:
            del self._failures[key]

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


THROTTLE = Throttle()


def check_login(username: str, password: str, settings: Settings,
                throttle: Throttle = THROTTLE) -> bool:
    """Admin or viewer credentials (constant-time comparison), throttled per client and
    per user; a throttled attempt is refused without looking at the password.

    A user name under a lock does not keep out an address that has never failed: failures
    sprayed from throwaway addresses would otherwise lock the real admin out. Such a clean
    address gets one try while the name is locked (its first failure throttles it), so
    guesses stay bounded by the addresses a guesser really has, since forwarded addresses
    are believed only from ``SENTIMENT_TRUSTED_PROXIES``.
    """
    client_key, user_key = f"client:{_client.get()}", f"user:{username}"
    client_wait, user_wait = throttle.wait_s(client_key), throttle.wait_s(user_key)
    clean_address = throttle.count(client_key) == 0
    if client_wait > 0 or (user_wait > 0 and not clean_address):
        log.warning("sign-in refused (throttled %.0f s): user %r from %s",
                    max(client_wait, user_wait), username, _client.get())
        return False
    expected = settings.admin_password if username == settings.admin_user else \
        settings.viewers.get(username)
    ok = expected is not None and hmac.compare_digest(password.encode(), expected.encode())
    if ok:
        for key in (client_key, user_key):
            throttle.succeeded(key)
        return True
    count = throttle.failed(user_key)
    client_count = throttle.failed(client_key)
    if user_wait > 0:  # a clean address's one try at a locked name is spent
        while throttle.count(client_key) < throttle.free:
            client_count = throttle.failed(client_key)
    log.warning("failed sign-in %d for user %r from %s", max(count, client_count), username,
                _client.get())
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
        return session_user(scope)

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
        # The Door has checked the origin; MLflow's own host and origin checks only know
        # localhost, so on a real domain they would refuse the admin (403 Invalid Host).
        headers = [(k, v) for k, v in scope.get("headers", []) if k != b"origin"]
        await self._mounted({**scope, "headers": headers}, receive, send)


async def _refuse(send: Any, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
    await send({"type": "http.response.body", "body": body})


# ---- the door: origins, body sizes, sign-in first, cookies ------------------------------

_DEFAULT_PORTS = {"http": "80", "https": "443"}
UPLOAD_PATHS = ("/gradio_api/upload", "/upload")
LOGIN_PATHS = ("/login", "/login/")
REST_PREFIX = "/api/v1/"  # ui/rest.py checks its own callers (API tokens)
MCP_PREFIX = "/gradio_api/mcp"  # Gradio's MCP server: an API token, when a password is set
MULTIPART_SLACK = 1024 * 1024  # a multipart body's boundaries and headers


def _netloc(scheme: str, netloc: str) -> str:
    """host[:port] in lower case, the scheme's default port left out."""
    host, sep, port = netloc.lower().rpartition(":")
    if not sep or "]" in port:  # no port (an IPv6 literal's colons are inside brackets)
        return netloc.lower()
    return host if _DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"


def origin_allowed(origin: str, host: str, allowed: tuple[str, ...]) -> bool:
    """Whether a request's ``Origin`` is the app's own (the ``Host`` it was sent to) or one
    the operator listed in ``SENTIMENT_ALLOWED_ORIGINS``. ``null`` is never the app's."""
    origin = origin.strip().lower().rstrip("/")
    if origin in allowed:
        return True
    scheme, sep, rest = origin.partition("://")
    if not sep or scheme not in _DEFAULT_PORTS or not host:
        return False
    own = {_netloc("http", host), _netloc("https", host)}
    return _netloc(scheme, rest) in own


def _headers(scope: dict) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1")
            for k, v in scope.get("headers", [])}


def session_user(scope: dict) -> str | None:
    """The signed-in user of Gradio's session cookie in this request, if any."""
    gradio_app = scope.get("app")
    cookie_id = getattr(gradio_app, "cookie_id", None)
    tokens = getattr(gradio_app, "tokens", None) or {}
    cookies: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, val = part.strip().partition("=")
                cookies[key] = val
    for key in (f"access-token-{cookie_id}", f"access-token-unsecure-{cookie_id}"):
        if key in cookies and cookies[key] in tokens:
            return tokens.get(cookies[key])
    return None


async def _json(send: Any, status: int, message: str,
                extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"detail": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *(extra or [])]})
    await send({"type": "http.response.body", "body": body})


class Sessions(MutableMapping):
    """Gradio's sign-in tokens (token -> user name), each valid for ``ttl_s`` after the
    sign-in; an expired token reads as absent, so its cookie signs in no more.

    With a ``store`` (the monitoring store: PostgreSQL when replicas share one) the
    tokens live there, hashed, so a sign-in on one replica holds on every replica and
    survives the one that made it; lookups are cached for ``cache_s``. Without one, or
    while the store cannot be reached, they live in this process.
    """

    def __init__(self, ttl_s: float, initial: dict[str, str] | None = None,
                 store: Any = None, cache_s: float = 5.0) -> None:
        self.ttl_s, self.store, self.cache_s = ttl_s, store, cache_s
        self._items: dict[str, tuple[str, float]] = {}  # token -> (user, sign-in time)
        self._seen: dict[str, float] = {}  # token -> when the store last confirmed it
        self._lock = threading.Lock()
        for key, value in (initial or {}).items():
            self[key] = value

    @staticmethod
    def _hash(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def _lookup(self, key: str) -> tuple[str, float] | None:
        now = time.time()
        with self._lock:
            item = self._items.get(key)
            fresh = self.store is None or now - self._seen.get(key, 0.0) < self.cache_s
        if (item is None or not fresh) and self.store is not None:
            try:
                item = self.store.session_get(self._hash(key))
            except SentimentError:
                log.warning("sign-in sessions: the store cannot be read; this process's "
                            "own sessions only")
            else:
                with self._lock:
                    if item is None:
                        self._items.pop(key, None)
                    else:
                        self._items[key], self._seen[key] = item, now
        if item is not None and now - item[1] > self.ttl_s:
            try:
                del self[key]  # not pop(): pop reads the item first, which lands back here
            except KeyError:
                log.debug("sign-in session already gone")
            return None
        return item

    def __getitem__(self, key: str) -> str:
        if not isinstance(key, str):  # Gradio asks for None when a request has no cookie
            raise KeyError(key)
        item = self._lookup(key)
        if item is None:
            raise KeyError(key)
        return item[0]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._lookup(key) is not None

    def __setitem__(self, key: str, value: str) -> None:
        now = time.time()
        with self._lock:
            self._items[key], self._seen[key] = (value, now), now
        if self.store is not None:
            try:
                self.store.session_put(self._hash(key), value, now)
            except SentimentError:
                log.warning("sign-in sessions: the store cannot be written; this sign-in "
                            "holds on this replica only")

    def __delitem__(self, key: str) -> None:
        with self._lock:
            found = self._items.pop(key, None)
            self._seen.pop(key, None)
        if self.store is not None:
            try:
                self.store.session_delete(self._hash(key), older_than=time.time() - self.ttl_s)
            except SentimentError:
                log.warning("sign-in sessions: the store cannot be written")
        elif found is None:
            raise KeyError(key)

    def __iter__(self) -> Any:  # this process's own tokens (the store holds hashes only)
        with self._lock:
            keys = list(self._items)
        return iter([k for k in keys if self._lookup(k) is not None])

    def __len__(self) -> int:
        return len(list(iter(self)))


class UploadQuota:
    """Bytes each user (or address, in the open demo) uploaded within the upload cache's
    lifetime: Gradio keeps uploads that long, so this bounds the disk one user can fill."""

    def __init__(self) -> None:
        self._sent: dict[str, list[tuple[float, int]]] = {}
        self._lock = threading.Lock()

    def used(self, who: str, window_s: float, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        with self._lock:
            kept = [(t, n) for t, n in self._sent.get(who, []) if now - t < window_s]
            self._sent[who] = kept
            return sum(n for _, n in kept)

    def add(self, who: str, size: int, now: float | None = None) -> None:
        with self._lock:
            self._sent.setdefault(who, []).append((time.monotonic() if now is None else now,
                                                   size))


QUOTA = UploadQuota()


class Door:
    """ASGI middleware in front of everything (Gradio, the MLflow UI):

    - a request whose ``Origin`` is neither the app's own nor listed in
      ``SENTIMENT_ALLOWED_ORIGINS`` is refused (403) before it reaches a handler, so a web
      page elsewhere cannot act as a signed-in user nor read an answer;
    - request bodies are limited before they are parsed: uploads to the upload limit (and
      each user's quota), anything else to ``SENTIMENT_MAX_BODY_KB`` (413);
    - with a password set, a body from a caller that is not signed in is refused (401)
      without being read, except the sign-in form itself and the programs' routes: the
      REST API (``/api/v1/``, which checks its API tokens itself, with a body limit that
      fits 1,000 texts) and Gradio's MCP server (``/gradio_api/mcp``), which needs a live
      API token for any request;
    - Gradio's own usage analytics (``/monitoring``) are for the admin only;
    - ``/logout`` ends this session only, not every session of the user;
    - the session cookies get ``SameSite`` from ``SENTIMENT_COOKIE_SAMESITE``.
    """

    def __init__(self, app: Any, settings: Callable[[], Settings],
                 quota: UploadQuota = QUOTA) -> None:
        self.app, self.settings, self.quota = app, settings, quota

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope.get("type") not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        settings = self.settings()
        headers = _headers(scope)
        path = scope.get("path", "")
        origin = headers.get("origin")
        cross_site = headers.get("sec-fetch-site") == "cross-site"
        if (origin is not None and not origin_allowed(origin, headers.get("host", ""),
                                                      settings.allowed_origins)) or \
                (origin is None and cross_site and scope.get("method") not in ("GET", "HEAD")):
            log.warning("refused a request from origin %r to %s", origin, path)
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await _json(send, 403, "Calls from other web sites are refused: this origin is "
                                   "not the app's own nor in SENTIMENT_ALLOWED_ORIGINS.")
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        self._adopt(scope.get("app"), settings)
        analytics = path.rstrip("/") == "/monitoring" or path.startswith("/monitoring/")
        if analytics and settings.auth_enabled and session_user(scope) != settings.admin_user:
            await _json(send, 404, "Not found.")
            return
        if path.rstrip("/") == "/logout" and b"all_session" not in scope.get("query_string", b""):
            query = scope.get("query_string", b"")
            scope = {**scope, "query_string": (query + b"&" if query else b"") +
                     b"all_session=false"}
        if path.startswith(MCP_PREFIX) and settings.auth_enabled and \
                not self._token_ok(headers, settings, path):
            await _json(send, 401, "Send an API token: Authorization: Bearer <token>.",
                        [(b"www-authenticate", b"Bearer")])
            return
        method = scope.get("method", "GET")
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            receive = await self._check_body(scope, receive, headers, settings, send)
            if receive is None:
                return
        await self.app(scope, receive, self._cookies(send, settings))

    @staticmethod
    def _token_ok(headers: dict[str, str], settings: Settings, path: str) -> bool:
        """Whether the request carries a live API token (refusals are logged)."""
        secret = bearer(headers)
        if not secret:
            log.warning("refused %s: no API token", path)
            return False
        try:
            access.authenticate(get_store(settings), secret)
        except (access.TokenRefused, SentimentError) as exc:
            log.warning("refused %s: %s", path, exc)
            return False
        return True

    @staticmethod
    def _adopt(gradio_app: Any, settings: Settings) -> None:
        """Once: sign-in sessions that expire (``SENTIMENT_SESSION_HOURS``), and with
        ``SENTIMENT_SESSION_SECRET`` the same cookie name on every replica."""
        if gradio_app is None or isinstance(getattr(gradio_app, "tokens", None), Sessions):
            return
        store = None
        secret = settings.session_secret
        try:
            store = get_store(settings)
            secret = secret or store.installation_secret("cookie", secrets.token_urlsafe(32))
        except SentimentError:
            log.warning("the monitoring store cannot be reached: sign-ins hold on this "
                        "replica only")
        gradio_app.tokens = Sessions(settings.session_hours * 3600,
                                     dict(getattr(gradio_app, "tokens", {}) or {}), store)
        if secret:  # the same cookie name on every replica of the store
            gradio_app.cookie_id = hashlib.sha256(
                b"cookie:" + secret.encode()).hexdigest()[:32]

    async def _check_body(self, scope: dict, receive: Any, headers: dict[str, str],
                          settings: Settings, send: Any) -> Any:
        """The receive channel to use, or None when the request was answered here."""
        path = scope.get("path", "")
        user = session_user(scope)
        programs = path.startswith((REST_PREFIX, MCP_PREFIX))  # tokens, checked apart
        if settings.auth_enabled and user is None and path not in LOGIN_PATHS and \
                not programs:
            await _json(send, 401, "Sign in first.")
            return None
        upload = path.rstrip("/") in UPLOAD_PATHS
        limit = settings.max_upload_bytes + MULTIPART_SLACK if upload else \
            settings.max_body_kb * 1024
        if path.startswith(REST_PREFIX):  # 1,000 texts of the text limit, as JSON
            limit = max(limit, 1000 * (settings.max_text_chars * 2 + 16) + 65_536)
        if path in LOGIN_PATHS:
            limit = 16 * 1024
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _json(send, 413, f"The request is too large (the limit is "
                                   f"{limit // 1024:,} KB).")
            return None
        if upload:
            who = user or f"address:{(scope.get('client') or ('?',))[0]}"
            window = max(60.0, settings.result_ttl_seconds)
            quota = int(settings.upload_quota_mb * 1024 * 1024)
            size = int(length) if length else 0
            if self.quota.used(who, window) + size > quota:
                await _json(send, 413, f"Upload quota reached: at most "
                                       f"{settings.upload_quota_mb:g} MB per user in "
                                       f"{window / 60:.0f} minutes; try again later.")
                return None
            self.quota.add(who, size)
        return _limited(receive, limit)

    def _cookies(self, send: Any, settings: Settings) -> Any:
        samesite = settings.cookie_samesite.encode()

        async def wrapped(message: dict) -> None:
            if message.get("type") == "http.response.start":
                out = []
                for name, value in message.get("headers", []):
                    if name.lower() == b"set-cookie" and value.startswith(b"access-token-"):
                        value = _samesite(value, samesite)
                    out.append((name, value))
                message = {**message, "headers": out}
            await send(message)
        return wrapped


def _samesite(cookie: bytes, samesite: bytes) -> bytes:
    """A Set-Cookie value with its SameSite attribute replaced (Secure where None)."""
    parts = [p for p in cookie.split(b";") if not p.strip().lower().startswith(b"samesite")]
    parts.append(b" SameSite=" + samesite.capitalize())
    if samesite == b"none" and not any(p.strip().lower() == b"secure" for p in parts):
        parts.append(b" Secure")
    return b";".join(parts)


def _limited(receive: Any, limit: int) -> Any:
    """A receive channel that stops a body (one without a length, too) past ``limit``:
    the app sees the client go away, and nothing beyond the limit is held."""
    seen = 0

    async def limited() -> dict:
        nonlocal seen
        message = await receive()
        if message.get("type") == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                log.warning("a request body went past %d bytes: cut off", limit)
                return {"type": "http.disconnect"}
        return message
    return limited


# ---- files the app serves ------------------------------------------------------------


def served_files(settings: Settings, app_folder: Path) -> tuple[list[str], list[str]]:
    """Where files may come from: (allowed_paths, blocked_paths) for ``launch``.

    Gradio lets a handler return any file of the working folder or of the system's temp
    folder. Here the libraries' temp files go to a private folder of their own, result
    files to another (:func:`sentiment.infra.results.root`) and Gradio's upload cache to a
    third, one folder per process (:func:`upload_folder`); the app folder, the home and
    the databases are blocked, so a handler can return nothing but a file made for it.
    Called once at start, before ``launch``.
    """
    private = results.private_root()
    libraries = private / "tmp"
    libraries.mkdir(exist_ok=True)
    tempfile.tempdir = str(libraries)  # what Gradio's "system temp folder" means now
    served = [results.root(), Path(upload_folder())]
    for path in served:
        path.mkdir(parents=True, exist_ok=True)
    blocked = []
    for path in {app_folder.resolve(), Path.cwd().resolve(), settings.home,
                 settings.db_dir or settings.home, libraries}:
        if any(s == path or path in s.parents for s in served):
            log.warning("%s holds the served files, so it cannot be blocked; set TMPDIR or "
                        "GRADIO_TEMP_DIR outside it", path)
            continue
        blocked.append(str(path))
    return [str(results.root())], sorted(blocked)


def upload_folder() -> str:
    """Gradio's upload cache: ``GRADIO_TEMP_DIR`` when set, else a folder of this process
    under the private root, so that a process killed with its uploads leaves a folder the
    next start (:func:`sweep_uploads`) knows to be dead."""
    if not os.environ.get("GRADIO_TEMP_DIR"):
        os.environ["GRADIO_TEMP_DIR"] = str(results.private_root() / "uploads" /
                                            str(os.getpid()))
    return os.environ["GRADIO_TEMP_DIR"]


def sweep_uploads(ttl_s: float, now: float | None = None) -> int:
    """Delete the upload folders of processes that are gone, and uploads older than
    ``ttl_s`` in the others (a crash leaves nothing for good). Returns files deleted."""
    parent = results.private_root() / "uploads"
    now = time.time() if now is None else now
    deleted = 0
    if not parent.is_dir():
        return 0
    for folder in parent.iterdir():
        alive = folder.name.isdigit() and processes.alive(int(folder.name))
        for path in sorted(folder.rglob("*"), reverse=True):
            try:
                if path.is_file() and (not alive or now - path.stat().st_mtime > ttl_s):
                    path.unlink()
                    deleted += 1
                elif path.is_dir() and not alive:
                    path.rmdir()
            except OSError:  # removed meanwhile, or not empty yet
                continue
        if not alive:
            shutil.rmtree(folder, ignore_errors=True)
    return deleted




def own_files(value: Any) -> Any:
    """``value`` (a path, or a gallery's (path, caption) pairs), after checking that every
    file in it is a result file this app made (:func:`sentiment.infra.results.root`): a handler
    never hands out a file whose path came from elsewhere."""
    root = results.root().resolve()
    paths = [value] if isinstance(value, str | Path) else \
        [item[0] if isinstance(item, tuple | list) else item for item in value or []]
    for path in paths:
        if path is None:
            continue
        if not Path(path).resolve().is_relative_to(root):
            raise internal_error("own_files", PermissionError(f"refused to serve {path}"))
    return value


def restrict_cors(settings: Callable[[], Settings]) -> None:
    """Gradio's CORS middleware echoes any ``Origin`` with credentials when the app is not
    on localhost; make it echo only the origins the :class:`Door` lets in (the app's own
    and ``SENTIMENT_ALLOWED_ORIGINS``). Gradio adds that middleware outside the app's own,
    so its decision is replaced rather than its headers removed."""
    from gradio import route_utils

    def is_valid_origin(self: Any, request_headers: Any) -> bool:
        return origin_allowed(request_headers.get("origin", ""),
                              request_headers.get("host", ""), settings().allowed_origins)

    route_utils.CustomCORSMiddleware.is_valid_origin = is_valid_origin
