"""gunicorn settings, read from the environment (see README: Configuration)."""

from __future__ import annotations

import os
import shutil
import tempfile

from service.config import current

# Read and checked here, in the master, before any worker starts: a bad value stops gunicorn
# with a message naming it (see service/config.py).
_settings = current()
bind = _settings.bind
workers = _settings.workers
# Each worker is an event loop (uvicorn) serving the Flask app from a pool of `threads` threads;
# long polls (?wait=) wait on the loop, holding no thread (service/waits.py).
worker_class = "service.waits.Worker"
threads = _settings.threads
timeout = _settings.timeout
graceful_timeout = _settings.graceful_timeout
keepalive = _settings.keepalive
# gunicorn 27 opens a control socket, by default in the home directory (root's, here), shared by
# every gunicorn on the machine; holdout is managed by signals and needs none.
control_socket_disable = True

# /metrics under several workers: prometheus_client's multiprocess mode, where each worker writes
# its samples to files in one folder and a scrape sums them. The folder is new for each run (files
# left by an earlier run would be summed in) and must be set before any worker imports the library.
if f"holdout-metrics-{os.getpid()}-" not in os.environ.get("PROMETHEUS_MULTIPROC_DIR", ""):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(
        prefix=f"holdout-metrics-{os.getpid()}-"
    )
# The app logs every request itself, as JSON with its request id; gunicorn's own lines go to stderr.
accesslog = None
errorlog = "-"
loglevel = _settings.log_level.lower()
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
    from service.waits import flask_of

    start_embedded_executor(flask_of(worker.wsgi))  # type: ignore[attr-defined]


def child_exit(server: object, worker: object) -> None:
    from service.metrics import worker_exited

    worker_exited(worker.pid)  # type: ignore[attr-defined]


def on_exit(server: object) -> None:
    shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def worker_exit(server: object, worker: object) -> None:
    """On shutdown, let jobs in flight finish (bounded by the graceful timeout), then stop."""
    from service.jobs import stop_embedded_executor
    from service.waits import flask_of

    stop_embedded_executor(flask_of(worker.wsgi), timeout=graceful_timeout)  # type: ignore[attr-defined]
