"""``ragkit serve``: knowledge bases over HTTP (OpenAI-compatible API, REST, MCP), with API keys.

Needs the ``serve`` extra (``pip install 'ragkit[serve]'``). Importing this package builds nothing;
``ragkit.server.app`` is made from the settings on first access, so both of these work::

    uvicorn ragkit.server:app
    uvicorn --factory ragkit.server:create_app
"""

from __future__ import annotations

from typing import Any

__all__ = ["app", "create_app"]


def create_app(*args: Any, **kwargs: Any) -> Any:
    """See :func:`ragkit.server.app.create_app`."""
    from ragkit.server.app import create_app as factory

    return factory(*args, **kwargs)


def __getattr__(name: str) -> Any:
    if name == "app":  # built from ragkit.toml / .env / RAGKIT_* on first access, then kept
        built = create_app()
        globals()["app"] = built
        return built
    raise AttributeError(f"module 'ragkit.server' has no attribute {name!r}")


def cli_app() -> Any:
    """The app ``ragkit serve`` runs in each worker (settings from the environment the command set)."""
    import os

    return create_app(allow_remote_without_keys=os.environ.get("RAGKIT_SERVE_ALLOW_REMOTE") == "1")
