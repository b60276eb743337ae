"""The holdout web service: Flask app, models, REST API, auth and the command line."""

from service.app import create_app

__all__ = ["create_app"]
