"""Serve the chat window: `launch(settings)` is what `rag ui` calls.

Binds settings.ui_host:ui_port (loopback by default), never creates a public share link, turns Gradio's
analytics off before Gradio is imported, and refuses to listen beyond loopback without a login.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any

from rag.errors import ConfigError
from rag.settings import Settings

LOOPBACK_NAMES = {"localhost"}


def is_loopback(host: str) -> bool:
    """True for 'localhost', 127.0.0.0/8 and ::1; any other name counts as reachable from the network."""
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def auth_pair(settings: Settings) -> tuple[str, str] | None:
    """settings.ui_auth ('user:password') as Gradio's auth tuple; refuses a non-loopback host without it."""
    if settings.ui_auth:
        user, _, password = settings.ui_auth.partition(":")
        if not user or not password:
            raise ConfigError("ui_auth must look like 'user:password' with both parts non-empty.")
        return user, password
    if not is_loopback(settings.ui_host):
        raise ConfigError(
            f"Refusing to serve the UI on {settings.ui_host!r} without a login: anyone on the network "
            "could use it. Set ui_auth='user:password' (RAG_UI_AUTH) or bind 127.0.0.1."
        )
    return None


def launch(settings: Settings, block: bool = True) -> Any:
    """Open the pipeline, build the app and serve it; returns the Gradio app when `block` is False."""
    auth = auth_pair(settings)  # fail before paying for any import
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

    from rag import open_pipeline
    from ui.app import build_app, launch_options

    pipeline = open_pipeline(settings)
    app = build_app(pipeline, settings)
    app.queue(default_concurrency_limit=1)
    print(f"newsrag chat window: http://{settings.ui_host}:{settings.ui_port}/  (Ctrl-C to stop)", flush=True)
    try:
        app.launch(
            server_name=settings.ui_host,
            server_port=settings.ui_port,
            share=False,
            auth=auth,
            inbrowser=False,
            show_error=False,
            prevent_thread_lock=not block,
            quiet=True,  # Gradio's banner suggests share=True, which newsrag never uses
            footer_links=["api"],
            **launch_options(),
        )
    finally:
        if block:
            pipeline.close()
    return app
