"""Periodic work, registered by each feature and run on threads of its own.

A feature registers a task at app start-up (`register(app, name, every, run)`): LTI housekeeping
and key rotation, the pages' expired sessions, the outbox's deliveries, expired attempts. The
process that grades (an API process in the embedded default, a `holdout worker` when scaled out)
starts one thread per task; grading threads never run any of it. A task runs inside an app
context and may return how much it did; one that did something is run again at once.
Several processes may run the same task: each task claims its rows itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask

from service.models import db

log = logging.getLogger("holdout.background")


@dataclass
class Task:
    name: str
    every: float
    run: Callable[[], Any]
    wakeup: threading.Event = field(default_factory=threading.Event)


class Background:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.tasks: dict[str, Task] = {}
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.on_stop: list[Callable[[], None]] = []

    def register(self, name: str, every: float, run: Callable[[], Any]) -> None:
        self.tasks[name] = Task(name, every, run)

    def run_once(self, name: str) -> Any:
        """One pass of a task, here and now (tests, and `holdout` commands)."""
        with self.app.app_context():
            try:
                return self.tasks[name].run()
            finally:
                db.session.remove()

    def wake(self, name: str) -> None:
        task = self.tasks.get(name)
        if task is not None:
            task.wakeup.set()

    def start(self) -> None:
        if self.threads:
            return
        self.stopping.clear()
        for task in self.tasks.values():
            thread = threading.Thread(
                target=self._loop, args=(task,), name=f"holdout-{task.name}", daemon=True
            )
            self.threads.append(thread)
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        for task in self.tasks.values():
            task.wakeup.set()
        for thread in self.threads:
            thread.join(timeout)
        self.threads = []
        for hook in self.on_stop:
            hook()

    def _loop(self, task: Task) -> None:
        while not self.stopping.is_set():
            try:
                did = self.run_once(task.name)
            except Exception:
                log.exception("background task failed", extra={"task": task.name})
                did = 0
            if did:
                continue
            task.wakeup.wait(task.every)
            task.wakeup.clear()


def background(app: Flask) -> Background:
    found: Background | None = app.extensions.get("holdout_background")
    if found is None:
        found = app.extensions["holdout_background"] = Background(app)
    return found


def register(app: Flask, name: str, every: float, run: Callable[[], Any]) -> None:
    background(app).register(name, every, run)


def start_background(app: Flask) -> None:
    background(app).start()


def stop_background(app: Flask, timeout: float = 10.0) -> None:
    background(app).stop(timeout)
