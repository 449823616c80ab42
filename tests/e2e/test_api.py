"""The named `ask` endpoint, called the way the README shows: with gradio_client."""

from __future__ import annotations

import pytest

from tests.e2e.ui_harness import UiServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def client(ui_server: UiServer, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # gradio_client looks up the hub otherwise
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    from gradio_client import Client

    return Client(ui_server.url, verbose=False)


def test_ask_endpoint_returns_the_answer_dictionary(client) -> None:  # noqa: ANN001
    result = client.predict("Who attended the Paris talks?", api_name="/ask")
    assert result["question"] == "Who attended the Paris talks?"
    assert result["abstained"] is False
    assert result["citations"], result
    for c in result["citations"]:
        assert f"[{c['n']}]" in result["answer"]
        assert c["quote"] and c["source"] and c["published_at"]


def test_ask_endpoint_rejects_an_empty_question(client) -> None:  # noqa: ANN001
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="question is empty"):
        client.predict("   ", api_name="/ask")
