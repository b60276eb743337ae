"""The question types, one module each (see _base.py): every public module of this package is a
type and is imported here, so adding a type is adding its module and its template."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from question_bank.qtypes._base import REGISTRY, AnswerError, QuestionType, Verdict

TEMPLATES = Path(__file__).resolve().parent

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    if not _module.startswith("_"):
        importlib.import_module(f"{__name__}.{_module}")

__all__ = ["REGISTRY", "TEMPLATES", "AnswerError", "QuestionType", "Verdict"]
