"""Typed settings read once from the environment, with safe embedded defaults.

Everything persistent lives under ``home`` (SPEC "Embedded defaults"). Unsafe or
nonsensical values fail loudly at start-up rather than half-working later.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentiment.vocabulary import GATE_METRICS, MODEL_TYPE_MODULES

# Outbound calls are off unless the operator turns them back on explicitly.
OFFLINE_DEFAULTS = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    # A remote registry that stops answering costs seconds, not MLflow's default minutes
    # (7 retries with backoff, 120 s timeouts); serving never waits on it anyway.
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}


def apply_offline_defaults() -> None:
    """Switch telemetry of Gradio, Hugging Face and MLflow off unless already set."""
    for key, value in OFFLINE_DEFAULTS.items():
        os.environ.setdefault(key, value)


class SettingsError(ValueError):
    """An environment variable holds a value the app refuses to run with."""


def _default_home() -> Path:
    data = Path("/data")
    if data.is_dir() and os.access(data, os.W_OK):
        return data / "sentiment"
    return Path(".sentiment").resolve()


def _default_db_dir(home: Path) -> Path:
    """SQLite files stay on local disk: a home on ``/data`` (a Space's storage bucket,
    where SQLite locks and corrupts under concurrent writers) keeps them in
    ``./.sentiment-db``, and :mod:`sentiment.infra.durable` copies them back to the home."""
    data = Path("/data")
    if home == data or data in home.parents:
        return Path(".sentiment-db").resolve()
    return home


def _float(name: str, default: float, low: float, high: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}={raw!r} is not a number") from exc
    if not low <= value <= high:
        raise SettingsError(f"{name}={value} is outside [{low}, {high}]")
    return value


def _int(name: str, default: int, low: int, high: int) -> int:
    return int(_float(name, default, low, high))




def _choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = (os.environ.get(name) or default).strip()
    if value not in choices:
        raise SettingsError(f"{name}={value!r} must be one of {list(choices)}")
    return value


def _flag(name: str) -> bool:
    """An on/off setting: 1/true/yes/on or 0/false/no/off (unset: off); anything else is
    refused rather than read as off."""
    raw = os.environ.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise SettingsError(f"{name}={raw!r} is not on or off: use 1 or 0")


def _json_object(name: str) -> dict[str, Any]:
    raw = os.environ.get(name) or "{}"
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a JSON object: {exc}") from exc
    if not isinstance(value, dict):
        raise SettingsError(f"{name} must be a JSON object, got {raw!r}")
    return value


def _viewers(raw: str) -> dict[str, str]:
    viewers: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in raw.split(","))):
        user, sep, password = pair.partition(":")
        if not sep or not user or not password:
            raise SettingsError("SENTIMENT_VIEWERS must be user:password pairs separated by commas")
        viewers[user] = password
    return viewers


@dataclass(frozen=True)
class Settings:
    """Every knob of the service; build it with :func:`get_settings`."""

    home: Path
    tracking_uri: str
    artifact_root: str
    model_name: str = "tweet-sentiment"
    min_accuracy: float = 0.75
    max_regression: float = 0.01
    gate_metric: str = "balanced_accuracy"
    bootstrap_challenger: str = "minilm"
    bootstrap_challenger_params: dict[str, Any] = field(default_factory=dict)
    admin_user: str = "admin"
    admin_password: str | None = None
    viewers: dict[str, str] = field(default_factory=dict)
    max_upload_mb: float = 50.0
    max_text_chars: int = 5000
    max_batch_rows: int = 200_000
    reload_check_seconds: float = 2.0
    alert_threshold: int = 3
    alert_window_seconds: int = 300
    alert_cooldown_seconds: int = 600
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    alert_from: str = "sentiment@localhost"
    alert_to: tuple[str, ...] = ()
    alert_webhook: str | None = None
    # Bad-buzz early warning (sentiment/monitoring/buzz.py).
    buzz_window_seconds: int = 900
    buzz_baseline_seconds: int = 86_400
    buzz_min_texts: int = 20  # negative texts in the window (0: the detector is off)
    buzz_cooldown_seconds: int = 3600
    buzz_check_seconds: float = 60.0
    buzz_alpha: float = 1e-4  # false-alarm probability of one check
    drift_bound: float = 0.15
    result_ttl_seconds: float = 3600.0
    result_quota_mb: float = 200.0
    database_url: str = ""
    serving_backend: str = "auto"
    serving_processes: int = 0
    db_dir: Path | None = None  # the SQLite files (None: the home)
    durable_sync_seconds: float = 30.0
    # The edge (ui/security.py): who may call, from where, with how much.
    allowed_origins: tuple[str, ...] = ()  # besides the app's own origin
    trusted_proxies: str = ""  # addresses whose X-Forwarded-For is believed
    max_body_kb: int = 1024  # any request body but an upload
    cookie_samesite: str = "lax"
    session_hours: float = 12.0
    session_secret: str | None = None  # replicas: the same sign-in cookie everywhere
    upload_quota_mb: float = 500.0  # per user, in the upload cache
    # Programs (ui/rest.py, ui/programs.py): requests per minute per caller (0: no limit),
    # and Gradio's MCP server for agents.
    api_rate_per_minute: int = 6000
    mcp: bool = False
    prediction_retention_days: float = 90.0
    prediction_max_rows: int = 2_000_000
    batch_lane_kb: int = 512  # batch files above this size are scored in a child process

    @property
    def auth_enabled(self) -> bool:
        return bool(self.admin_password)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


def get_settings() -> Settings:
    """Read the environment now (tests change it between calls, so nothing is cached)."""
    apply_offline_defaults()
    env = os.environ.get
    home = Path(env("SENTIMENT_HOME") or _default_home()).expanduser().resolve()
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError(f"SENTIMENT_HOME={home} cannot be created ({exc.strerror}); point "
                            "SENTIMENT_HOME at a writable folder.") from exc
    db_dir = Path(env("SENTIMENT_DB_DIR") or _default_db_dir(home)).expanduser().resolve()
    try:
        db_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError(f"SENTIMENT_DB_DIR={db_dir} cannot be created ({exc.strerror}); "
                            "point it at a writable local folder.") from exc
    tracking = env("MLFLOW_TRACKING_URI") or f"sqlite:///{db_dir / 'mlflow.db'}"
    model_name = env("SENTIMENT_MODEL_NAME", "tweet-sentiment").strip()
    if not model_name or "/" in model_name or "@" in model_name:
        raise SettingsError(f"SENTIMENT_MODEL_NAME={model_name!r} is not a valid model name")
    password = env("SENTIMENT_ADMIN_PASSWORD") or None
    if password is not None and len(password) < 8:
        raise SettingsError("SENTIMENT_ADMIN_PASSWORD must be at least 8 characters")
    webhook = env("SENTIMENT_ALERT_WEBHOOK") or None
    if webhook and not webhook.startswith(("http://", "https://")):
        raise SettingsError("SENTIMENT_ALERT_WEBHOOK must be an http(s) URL")
    return Settings(
        home=home,
        tracking_uri=tracking,
        artifact_root=(home / "mlartifacts").as_uri(),
        model_name=model_name,
        min_accuracy=_float("SENTIMENT_MIN_ACCURACY", 0.75, 0.0, 1.0),
        max_regression=_float("SENTIMENT_MAX_REGRESSION", 0.01, 0.0, 1.0),
        gate_metric=_choice("SENTIMENT_GATE_METRIC", "balanced_accuracy", GATE_METRICS),
        bootstrap_challenger=_choice("SENTIMENT_BOOTSTRAP_CHALLENGER", "minilm",
                                     (*MODEL_TYPE_MODULES, "none")),
        bootstrap_challenger_params=_json_object("SENTIMENT_BOOTSTRAP_CHALLENGER_PARAMS"),
        admin_user=env("SENTIMENT_ADMIN_USER", "admin") or "admin",
        admin_password=password,
        viewers=_viewers(env("SENTIMENT_VIEWERS", "")),
        max_upload_mb=_float("SENTIMENT_MAX_UPLOAD_MB", 50.0, 0.001, 2048.0),
        max_text_chars=_int("SENTIMENT_MAX_TEXT_CHARS", 5000, 10, 1_000_000),
        max_batch_rows=_int("SENTIMENT_MAX_BATCH_ROWS", 200_000, 1, 10_000_000),
        reload_check_seconds=_float("SENTIMENT_RELOAD_CHECK_SECONDS", 2.0, 0.0, 3600.0),
        alert_threshold=_int("SENTIMENT_ALERT_THRESHOLD", 3, 1, 10_000),
        alert_window_seconds=_int("SENTIMENT_ALERT_WINDOW_SECONDS", 300, 1, 86_400 * 7),
        alert_cooldown_seconds=_int("SENTIMENT_ALERT_COOLDOWN_SECONDS", 600, 0, 86_400 * 7),
        smtp_host=env("SENTIMENT_SMTP_HOST") or None,
        smtp_port=_int("SENTIMENT_SMTP_PORT", 25, 1, 65_535),
        smtp_user=env("SENTIMENT_SMTP_USER") or None,
        smtp_password=env("SENTIMENT_SMTP_PASSWORD") or None,
        smtp_starttls=env("SENTIMENT_SMTP_STARTTLS", "").lower() in {"1", "true", "yes"},
        alert_from=env("SENTIMENT_ALERT_FROM", "sentiment@localhost") or "sentiment@localhost",
        alert_to=tuple(a.strip() for a in env("SENTIMENT_ALERT_TO", "").split(",") if a.strip()),
        alert_webhook=webhook,
        **buzz_settings(),
        drift_bound=_float("SENTIMENT_DRIFT_BOUND", 0.15, 0.0, 1.0),
        result_ttl_seconds=_float("SENTIMENT_RESULT_TTL_SECONDS", 3600.0, 1.0, 86_400 * 7),
        result_quota_mb=_float("SENTIMENT_RESULT_QUOTA_MB", 200.0, 1.0, 100_000.0),
        database_url=database_url(env("SENTIMENT_DATABASE_URL") or "", db_dir),
        db_dir=db_dir,
        durable_sync_seconds=_float("SENTIMENT_DURABLE_SYNC_SECONDS", 30.0, 0.1, 86_400.0),
        serving_backend=serving_backend(),
        serving_processes=serving_processes(),
        allowed_origins=allowed_origins(env("SENTIMENT_ALLOWED_ORIGINS", "")),
        trusted_proxies=trusted_proxies(env("SENTIMENT_TRUSTED_PROXIES", "")),
        max_body_kb=_int("SENTIMENT_MAX_BODY_KB", 1024, 16, 1_048_576),
        cookie_samesite=_choice("SENTIMENT_COOKIE_SAMESITE", "lax", ("lax", "strict", "none")),
        session_hours=_float("SENTIMENT_SESSION_HOURS", 12.0, 0.01, 24 * 365),
        session_secret=session_secret(env("SENTIMENT_SESSION_SECRET") or None),
        upload_quota_mb=_float("SENTIMENT_UPLOAD_QUOTA_MB", 500.0, 1.0, 1_000_000.0),
        api_rate_per_minute=_int("SENTIMENT_API_RATE_PER_MINUTE", 6000, 0, 10_000_000),
        mcp=_flag("SENTIMENT_MCP"),
        prediction_retention_days=_float("SENTIMENT_PREDICTION_RETENTION_DAYS", 90.0, 0.0,
                                         36_500.0),
        prediction_max_rows=_int("SENTIMENT_PREDICTION_MAX_ROWS", 2_000_000, 0, 10**10),
        batch_lane_kb=_int("SENTIMENT_BATCH_LANE_KB", 512, 0, 10**9),
    )


def buzz_settings() -> dict[str, Any]:
    """The bad-buzz detector's knobs; the baseline must be longer than the window it is
    compared with, and a check runs at least once a minute."""
    window = _int("SENTIMENT_BUZZ_WINDOW_SECONDS", 900, 60, 86_400)
    baseline = _int("SENTIMENT_BUZZ_BASELINE_SECONDS", 86_400, 600, 86_400 * 30)
    if baseline < 2 * window:
        raise SettingsError(f"SENTIMENT_BUZZ_BASELINE_SECONDS={baseline} must be at least "
                            f"twice SENTIMENT_BUZZ_WINDOW_SECONDS={window}: the usual share "
                            "is measured over the baseline")
    return {"buzz_window_seconds": window, "buzz_baseline_seconds": baseline,
            "buzz_min_texts": _int("SENTIMENT_BUZZ_MIN_TEXTS", 20, 0, 1_000_000),
            "buzz_cooldown_seconds": _int("SENTIMENT_BUZZ_COOLDOWN_SECONDS", 3600, 0,
                                          86_400 * 7),
            "buzz_check_seconds": _float("SENTIMENT_BUZZ_CHECK_SECONDS", 60.0, 0.2, 60.0),
            "buzz_alpha": _float("SENTIMENT_BUZZ_ALPHA", 1e-4, 1e-12, 0.05)}


def allowed_origins(raw: str) -> tuple[str, ...]:
    """``SENTIMENT_ALLOWED_ORIGINS``: origins (``https://host[:port]``, comma-separated)
    that may call or embed the app besides its own; a wildcard is refused."""
    origins = []
    for item in filter(None, (o.strip().rstrip("/") for o in raw.split(","))):
        scheme, sep, rest = item.partition("://")
        if item == "*" or "*" in item:
            raise SettingsError("SENTIMENT_ALLOWED_ORIGINS may not hold a wildcard: list the "
                                "origins that may call the app (https://host[:port])")
        if scheme not in ("http", "https") or not sep or not rest or "/" in rest:
            raise SettingsError(f"SENTIMENT_ALLOWED_ORIGINS: {item!r} is not an origin "
                                "(scheme://host[:port], no path)")
        origins.append(item.lower())
    return tuple(origins)


def trusted_proxies(raw: str) -> str:
    """``SENTIMENT_TRUSTED_PROXIES``: addresses or networks (comma-separated) of the
    proxies whose ``X-Forwarded-For`` names the real client; none by default."""
    import ipaddress

    items = [i.strip() for i in raw.split(",") if i.strip()]
    for item in items:
        if item == "*":
            raise SettingsError("SENTIMENT_TRUSTED_PROXIES=* would let any caller choose its "
                                "address: list the proxies' addresses")
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError as exc:
            raise SettingsError(f"SENTIMENT_TRUSTED_PROXIES: {item!r} is not an address or "
                                "network") from exc
    return ",".join(items)


def session_secret(raw: str | None) -> str | None:
    """``SENTIMENT_SESSION_SECRET``: shared by replicas behind one load balancer."""
    if raw is not None and len(raw) < 16:
        raise SettingsError("SENTIMENT_SESSION_SECRET must be at least 16 characters")
    return raw


SERVING_BACKENDS = ("auto", "onnx", "onnx-int8", "keras")


def serving_backend() -> str:
    """``SENTIMENT_SERVING_BACKEND``: how minilm and bilstm versions are served (``auto``:
    the ONNX variant recorded when the version was logged; Keras for older versions).
    Read on its own too, because a logged model loads in processes without settings."""
    return _choice("SENTIMENT_SERVING_BACKEND", "auto", SERVING_BACKENDS)


def usable_cores() -> int:
    """The cores this process may run on (a container's limit, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def serving_processes() -> int:
    """``SENTIMENT_SERVING_PROCESSES``: worker processes that share large batches of the
    GIL-bound model types (:mod:`sentiment.serving.fanout`). ``auto`` (default): one per usable
    core when there are at least two; ``0`` keeps every batch in the serving process."""
    raw = (os.environ.get("SENTIMENT_SERVING_PROCESSES") or "auto").strip().lower()
    if raw == "auto":
        usable = usable_cores()
        return usable if usable >= 2 else 0
    value = _int("SENTIMENT_SERVING_PROCESSES", 0, 0, 64)
    if value == 1:
        raise SettingsError("SENTIMENT_SERVING_PROCESSES=1 would add a process and gain "
                            "nothing; use 0 (off), 2 or more, or auto")
    return value


def database_url(raw: str, home: Path) -> str:
    """The monitoring store and lifecycle locks as an SQLAlchemy URL: SQLite in the home
    by default, PostgreSQL (driven by psycopg) when replicas share one registry."""
    raw = raw.strip()
    if not raw:
        return f"sqlite:///{home / 'monitoring.db'}"
    scheme, sep, rest = raw.partition("://")
    if scheme in ("postgres", "postgresql", "postgresql+psycopg") and sep and rest:
        return f"postgresql+psycopg://{rest}"
    if scheme == "sqlite" and sep and rest.startswith("/") and len(rest) > 1:
        return raw
    raise SettingsError("SENTIMENT_DATABASE_URL must be postgresql://user:password@host:port/db "
                        "or sqlite:////absolute/path.db")


def is_postgres(url: str) -> bool:
    """Whether a database URL names PostgreSQL (advisory locks, shared monitoring)."""
    return url.startswith("postgresql")


def check_writable(home: Path) -> None:
    """Fail loudly (one line) when SENTIMENT_HOME cannot be written: every prediction
    would be served but nothing recorded, and no model could be trained or promoted."""
    probe = home / f".write-check-{os.getpid()}"
    try:
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise SettingsError(f"SENTIMENT_HOME={home} is not writable ({exc.strerror}); point "
                            "SENTIMENT_HOME at a writable folder (or fix its permissions)."
                            ) from exc
