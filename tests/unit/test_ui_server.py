"""ui.server's safety rules: loopback by default, no open network binding without a login."""

from __future__ import annotations

import pytest

from rag import Settings
from rag.errors import ConfigError
from ui import server


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("::", False),
        ("myhost.example", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert server.is_loopback(host) is loopback


def test_loopback_needs_no_login() -> None:
    assert server.auth_pair(Settings()) is None


def test_login_is_parsed_into_gradio_auth() -> None:
    assert server.auth_pair(Settings(ui_host="0.0.0.0", ui_auth="ana:s3:cret")) == ("ana", "s3:cret")


def test_network_binding_without_login_is_refused_before_anything_starts() -> None:
    with pytest.raises(ConfigError, match=r"Refusing to serve the UI on '0\.0\.0\.0' without a login"):
        server.launch(Settings(ui_host="0.0.0.0"))


def test_login_with_an_empty_part_is_refused() -> None:
    with pytest.raises(ConfigError, match="both parts non-empty"):
        server.auth_pair(Settings(ui_auth="ana:"))
