"""The API tab: the admin's API tokens for programs, and the tools agents call over MCP.

Tokens (:mod:`sentiment.serving.access`) are made, listed with their last use and revoked
here or with ``python -m admin token ...``; the REST API (:mod:`ui.rest`) and the MCP
server accept them as ``Authorization: Bearer <token>``. With ``SENTIMENT_MCP=1`` the app
also serves Gradio's MCP server (``/gradio_api/mcp/``) and :func:`restrict` leaves it the
read-only tools of :data:`TOOLS` only: predict, explain and the models table; nothing
that changes state is an MCP tool.
"""

from __future__ import annotations

import json
import time
from types import SimpleNamespace
from typing import Any

import gradio as gr
import pandas as pd

from sentiment import lifecycle
from sentiment.serving import access
from ui.common import PRIVATE, SETTINGS, admin, service, user_of, viewer
from ui.text import t

TOOLS = ("sentiment_predict", "sentiment_explain", "sentiment_models")  # their api_names
TOKEN_COLUMNS = ["name", "role", "state", "created", "expires", "last_used", "created_by"]


def _when(ts: float | None) -> str:
    return "" if ts is None else time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


@admin
def token_create(name: str, role: str = "viewer", expires_days: float | None = None,
                 request: gr.Request = None) -> dict[str, Any]:
    """Create an API token with a role (viewer or admin) and an optional expiry in days
    (0 or empty: never); the secret is in the answer and is never shown again (admin)."""
    made = access.create(service().store, name, role, float(expires_days or 0) or None,
                         by=user_of(request))
    return {"name": made["name"], "role": made["role"], "secret": made["secret"],
            "expires": _when(made["expires"]) or "never",
            "use": f"Authorization: Bearer {made['secret']}"}


@admin
def token_list() -> pd.DataFrame:
    """Every API token (never its secret): role, live/expired/revoked, last use (admin)."""
    rows = access.tokens(service().store)
    for row in rows:
        for key in ("created", "expires", "last_used"):
            row[key] = _when(row[key]) or ("never" if key == "expires" else "")
    return pd.DataFrame(rows, columns=TOKEN_COLUMNS)


@admin
def token_revoke(name: str) -> str:
    """Revoke the live API token of that name: refused from now on (admin)."""
    access.revoke(service().store, name)
    return f"Token {name.strip()!r} revoked."


@viewer
def sentiment_predict(text: str, request: gr.Request = None) -> str:
    """Classify the sentiment of one tweet or customer review as positive or negative.

    Args:
        text: the tweet or review, in English (at most SENTIMENT_MAX_TEXT_CHARS characters).

    Returns:
        JSON: label (positive or negative), proba_positive (0 to 1), confidence, version.
    """
    result = service().predict(text, source="mcp")
    return json.dumps({k: result[k] for k in ("label", "proba_positive", "confidence",
                                              "version", "model_type", "prediction_id")})


@viewer
def sentiment_explain(text: str) -> str:
    """Explain a sentiment prediction: each word's weight towards positive (> 0) or
    negative (< 0) in the production model's answer for one text.

    Args:
        text: the tweet or review to explain.

    Returns:
        JSON: label, proba_positive, version and words as (word, weight) pairs.
    """
    result = service().explain(text)
    return json.dumps({"label": result["label"], "proba_positive": result["proba_positive"],
                       "version": result["version"], "words": [
                           [w, round(float(x), 4)]
                           for w, x in zip(result["tokens"], result["weights"])]})


@viewer
def sentiment_models() -> str:
    """List the sentiment model versions: type, status, validation score and which one
    is in production.

    Returns:
        JSON list of versions.
    """
    keep = ("version", "production", "model_type", "status", "validation_metric",
            "validation_score", "created")
    return json.dumps([{k: row.get(k) for k in keep}
                       for row in lifecycle.models_table(SETTINGS)], default=str)


def build() -> SimpleNamespace:
    """The tab (``/token_create``, ``/token_list``, ``/token_revoke``) and, with
    ``SENTIMENT_MCP=1``, the MCP tools (not queued: Gradio calls them in process)."""
    with gr.Tab(t("tab_api"), id="api"):
        gr.Markdown(t("api_intro"))
        with gr.Row():
            name_in = gr.Textbox(label=t("token_name"), max_length=64)
            role_in = gr.Radio(list(access.ROLES), value="viewer", label=t("token_role"))
            days_in = gr.Number(0, label=t("token_expires"), minimum=0, maximum=3650)
            create_btn = gr.Button(t("token_create"), variant="primary")
        secret_out = gr.JSON(label=t("token_secret"))
        list_btn = gr.Button(t("tokens"), size="sm")
        table = gr.Dataframe(label=t("tokens"), interactive=False)
        with gr.Row():
            revoke_in = gr.Textbox(label=t("token_name"), max_length=64)
            revoke_btn = gr.Button(t("token_revoke"), variant="stop")
        revoke_md = gr.Markdown()
    list_btn.click(token_list, None, table, api_name="token_list")  # first: it owns the name
    made = create_btn.click(token_create, [name_in, role_in, days_in], secret_out,
                            api_name="token_create")
    made.then(token_list, None, table, **PRIVATE)
    revoke_btn.click(token_revoke, revoke_in, revoke_md, api_name="token_revoke").then(
        token_list, None, table, **PRIVATE)
    if SETTINGS.mcp:
        for tool in (sentiment_predict, sentiment_explain, sentiment_models):
            gr.api(tool, api_name=tool.__name__, queue=False)
    return SimpleNamespace(table=table)


def restrict(demo: gr.Blocks) -> list[str]:
    """Leave Gradio's MCP server (made by ``launch``) the tools of :data:`TOOLS` only;
    return the tool names it serves."""
    server = getattr(demo, "mcp_server_obj", None)
    if server is None:
        return []
    keep = {f"/{name}" for name in TOOLS}
    server.tool_to_endpoint = {tool: endpoint for tool, endpoint
                               in server.tool_to_endpoint.items() if endpoint in keep}
    return sorted(server.tool_to_endpoint)
