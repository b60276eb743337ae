"""The holdout web service: Flask app, models, REST API, auth and the command line."""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Lazily: importing service.gunicorn_conf (in gunicorn's master) must not import the app,
    # which imports prometheus_client before the config has set up its multiprocess folder.
    if name == "create_app":
        from service.app import create_app

        return create_app
    raise AttributeError(name)
