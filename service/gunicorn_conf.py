"""gunicorn settings, read from the environment (see README: Configuration)."""

from __future__ import annotations

import os

bind = os.environ.get("HOLDOUT_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("HOLDOUT_WORKERS", "2"))
threads = int(os.environ.get("HOLDOUT_THREADS", "4"))
# Long polls of a submission (?wait=) last up to 30 s, so a request may take that long plus margin.
timeout = int(os.environ.get("HOLDOUT_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("HOLDOUT_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("HOLDOUT_KEEPALIVE", "5"))
# The app logs every request itself, as JSON with its request id; gunicorn's own lines go to stderr.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("HOLDOUT_LOG_LEVEL", "info").lower()
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "service.logs.JsonFormatter"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"level": loglevel.upper(), "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["stderr"], "propagate": False},
    },
}


def post_worker_init(worker: object) -> None:
    """Start the embedded grading threads in each worker (they do nothing with a broker)."""
    from service.jobs import start_embedded_executor

    start_embedded_executor(worker.wsgi)  # type: ignore[attr-defined]


def worker_exit(server: object, worker: object) -> None:
    """On shutdown, let jobs in flight finish (bounded by the graceful timeout), then stop."""
    from service.jobs import stop_embedded_executor

    stop_embedded_executor(worker.wsgi, timeout=graceful_timeout)  # type: ignore[attr-defined]
