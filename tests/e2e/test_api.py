"""The REST API and the MCP server of the real app (``python app.py``) with a password:
readiness through the first start, README's ``curl`` call with a token made in the API
tab, and an MCP client (the ``mcp`` package) listing the tools and calling predict."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import time

import pytest
import requests
from gradio_client import Client

from tests.conftest import ROOT, AppServer

pytestmark = pytest.mark.slow
ADMIN = ("admin", "admin-secret-1")
TOOLS = {"sentiment_predict", "sentiment_explain", "sentiment_models"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    """The app on an empty home (its first start trains the baseline), with MCP on; the
    readiness answers seen from the first one to the first 200."""
    server = AppServer(tmp_path_factory.mktemp("api") / "home",
                       {"SENTIMENT_ADMIN_PASSWORD": ADMIN[1], "SENTIMENT_MCP": "1",
                        "SENTIMENT_BOOTSTRAP_CHALLENGER": "none"})
    seen: list[int] = []
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and (not seen or seen[-1] != 200):
            assert server.process.poll() is None, server.log_path.read_text()[-3000:]
            with contextlib.suppress(requests.ConnectionError):  # not listening yet
                seen.append(requests.get(f"{server.url}api/v1/ready", timeout=5).status_code)
            time.sleep(0.2)
        server.wait_ready()
        admin = Client(server.url, auth=ADMIN, verbose=False)
        tokens = {role: admin.predict(name=f"{role}-bot", role=role, expires_days=0,
                                      api_name="/token_create")["secret"]
                  for role in ("viewer", "admin")}
        yield {"server": server, "ready": seen, "tokens": tokens, "client": admin}
    finally:
        server.stop()


def test_ready_is_503_until_the_first_model_then_200(served: dict) -> None:
    seen = served["ready"]
    assert seen[0] == 503 and seen[-1] == 200 and set(seen) == {503, 200}, seen
    assert requests.get(f"{served['server'].url}api/v1/health", timeout=5).json() == {
        "status": "ok"}


def test_the_readme_curl_call_predicts_with_a_token(served: dict) -> None:
    line = next(x for x in (ROOT / "README.md").read_text().splitlines()
                if x.startswith("curl "))
    assert "$TOKEN" in line and "/api/v1/predict" in line
    command = line.replace("http://localhost:7860/", served["server"].url)
    run = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30,
                         env={**os.environ, "TOKEN": served["tokens"]["viewer"]})
    answer = json.loads(run.stdout)
    assert [p["label"] for p in answer["predictions"]] == ["positive", "negative"]
    assert answer["model"]["version"] == "1" and answer["predictions"][0]["prediction_id"]
    refused = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                             timeout=30, env={**os.environ, "TOKEN": "snt_wrong"})
    assert "Unknown API token" in refused.stdout
    listed = served["client"].predict(api_name="/token_list")
    assert set(listed["headers"]) >= {"name", "role", "state", "last_used"}
    assert not any(served["tokens"]["viewer"] in str(row) for row in listed["data"])


async def _mcp(url: str, token: str | None) -> tuple[set[str], dict]:
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with streamablehttp_client(f"{url}gradio_api/mcp/", headers=headers) as (r, w, _), \
            ClientSession(r, w) as session:
        await session.initialize()
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        assert "positive or negative" in tools["sentiment_predict"].description
        called = await session.call_tool("sentiment_predict",
                                         {"text": "Worst airline ever, my bag is lost"})
        assert not called.isError, called.content
        return set(tools), json.loads(called.content[0].text)


def test_an_agent_lists_the_read_only_tools_and_predicts_over_mcp(served: dict) -> None:
    url = served["server"].url
    tools, answer = asyncio.run(_mcp(url, served["tokens"]["viewer"]))
    assert tools == TOOLS  # nothing that trains, promotes, uploads or makes tokens
    assert answer["label"] == "negative" and answer["version"] == "1"
    # The agent's prediction is logged and monitored like any other (channel mcp).
    triage = requests.get(f"{url}api/v1/triage", timeout=10, headers={
        "Authorization": f"Bearer {served['tokens']['admin']}"}).json()["triage"]
    mine = [row for row in triage if row["prediction_id"] == answer["prediction_id"]]
    assert mine and mine[0]["channel"] == "mcp"
    for headers in ({}, {"Authorization": "Bearer snt_forged"}):
        refused = requests.post(f"{url}gradio_api/mcp/", timeout=10, headers=headers,
                                json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        assert refused.status_code == 401, refused.text
