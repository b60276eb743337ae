"""Declared settings: each HOLDOUT_* environment variable once, with its type, default and meaning.

The machinery lives in `grader` because the grader reads a few settings itself and must import
nothing else of ours; `service/config.py` declares the rest with the same `Setting`, and the
README's configuration table is generated from both (`holdout config docs`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class ConfigError(SystemExit):
    """A bad HOLDOUT_* value. A SystemExit, so that the CLI, gunicorn and a plain `import` all
    stop with this message naming the setting, not with a traceback from deep inside a module."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"holdout: bad configuration (environment variables):\n{lines}")


# Parsers: callables from the raw string to the value, raising ValueError with a reason. Their
# str() is the type the README shows.


@dataclass(frozen=True)
class Integer:
    minimum: int | None = None

    def __call__(self, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError("not a whole number") from None
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"must be at least {self.minimum}")
        return value

    def __str__(self) -> str:
        return "integer" if self.minimum is None else f"integer ≥ {self.minimum}"


@dataclass(frozen=True)
class Number:
    minimum: float | None = None
    positive: bool = False  # strictly greater than zero

    def __call__(self, raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError("not a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("must be a finite number")
        if self.positive and value <= 0:
            raise ValueError("must be greater than 0")
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"must be at least {self.minimum:g}")
        return value

    def __str__(self) -> str:
        if self.positive:
            return "number > 0"
        return "number" if self.minimum is None else f"number ≥ {self.minimum:g}"


@dataclass(frozen=True)
class Flag:
    def __call__(self, raw: str) -> bool:
        lowered = raw.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError("not a flag (use 1 or 0)")

    def __str__(self) -> str:
        return "flag (1/0)"


@dataclass(frozen=True)
class Text:
    prefixes: tuple[str, ...] = ()  # if given, the value must start with one of these

    def __call__(self, raw: str) -> str:
        if self.prefixes and not raw.startswith(self.prefixes):
            raise ValueError("must start with " + " or ".join(self.prefixes))
        return raw

    def __str__(self) -> str:
        return "URL" if self.prefixes else "text"


@dataclass(frozen=True)
class Choice:
    choices: tuple[str, ...]

    def __call__(self, raw: str) -> str:
        value = raw.upper()
        if value not in self.choices:
            raise ValueError("must be one of " + ", ".join(self.choices))
        return value

    def __str__(self) -> str:
        return " \\| ".join(self.choices)


@dataclass(frozen=True)
class PathList:
    def __call__(self, raw: str) -> tuple[str, ...]:
        return tuple(p for p in raw.split(":") if p)

    def __str__(self) -> str:
        return "paths, `:`-separated"


@dataclass(frozen=True)
class Directory:
    def __call__(self, raw: str) -> Path:
        return Path(raw)

    def __str__(self) -> str:
        return "path"


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One environment variable: how to read it, its default, and what it means."""

    env: str
    parse: Callable[[str], T]
    default: T
    meaning: str
    shown_default: str = ""  # the README's words for the default, when the value alone isn't

    def read(self, environ: Mapping[str, str] | None = None) -> T:
        """The value from the environment (empty means unset); ConfigError if it is bad."""
        value, problem = self.try_read(environ)
        if problem:
            raise ConfigError([problem])
        return value

    def try_read(self, environ: Mapping[str, str] | None = None) -> tuple[T, str]:
        raw = (os.environ if environ is None else environ).get(self.env, "").strip()
        if not raw:
            return self.default, ""
        try:
            return self.parse(raw), ""
        except ValueError as exc:
            return self.default, f"{self.env}={raw!r}: {exc}"

    def default_text(self) -> str:
        if self.shown_default:
            return self.shown_default
        value: Any = self.default
        if value is None or value in ("", ()):
            return "unset"
        if isinstance(value, bool):
            return "`1`" if value else "`0`"
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return f"`{value}`"


# What the grader reads itself (see grader/engine.py and grader/uids.py).
SANDBOX_ALLOW_UNSAFE = Setting(
    "HOLDOUT_SANDBOX_ALLOW_UNSAFE",
    Flag(),
    False,
    "`1` lets the grader run without uid separation, resource limits or the seccomp filter "
    "(never in production)",
)
SANDBOX_HIDE: Setting[tuple[str, ...]] = Setting(
    "HOLDOUT_SANDBOX_HIDE",
    PathList(),
    (),
    "extra paths the start-up probe checks sandboxed code cannot see (a job's root is its own: "
    "no path of the machine's exists for it)",
)
UID_LOCK_DIR: Setting[Path] = Setting(
    "HOLDOUT_UID_LOCK_DIR",
    Directory(),
    Path("/tmp/holdout-uid-blocks"),
    "where grading processes on one machine reserve their blocks of sandbox uids (grader/uids.py)",
)
GRADER_SETTINGS: tuple[Setting[Any], ...] = (SANDBOX_ALLOW_UNSAFE, SANDBOX_HIDE, UID_LOCK_DIR)
