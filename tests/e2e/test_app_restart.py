"""The prediction log, the feedback and the alert state survive an app restart."""

import pytest
from gradio_client import Client

from tests.conftest import AppServer

pytestmark = pytest.mark.slow
WRONG = ["great flight", "lovely crew", "best airline", "fantastic food", "super seats",
         "nice landing"]


def report(client: Client, texts: list[str]) -> list[str]:
    acks = []
    for text in texts:
        label, _ = client.predict(text=text, api_name="/predict")
        acks.append(client.predict(text=text, predicted_label=label["label"], is_correct=False,
                                   api_name="/feedback"))
    return acks


def test_monitoring_state_survives_a_restart(tmp_path) -> None:
    home = tmp_path / "home"
    first = AppServer(home)
    try:
        first.wait_ready()
        client = Client(first.url, verbose=False)
        acks = report(client, WRONG[:3])
        assert "Alert #1 raised" in acks[-1]
        before = client.predict(api_name="/monitoring")
    finally:
        first.stop()
    assert before["predictions"] == 3 and before["wrong"] == 3 and before["alerts"] == 1

    second = AppServer(home)
    try:
        second.wait_ready()
        client = Client(second.url, verbose=False)
        after = client.predict(api_name="/monitoring")
        assert {k: after[k] for k in ("predictions", "feedback", "wrong", "alerts")} == {
            k: before[k] for k in ("predictions", "feedback", "wrong", "alerts")}
        assert after["latest_alerts"][0]["texts"] == before["latest_alerts"][0]["texts"]
        # The cool-down started before the restart still holds: no second alert.
        assert not any("Alert" in ack for ack in report(client, WRONG[3:6]))
        assert client.predict(api_name="/monitoring")["alerts"] == 1
    finally:
        second.stop()
