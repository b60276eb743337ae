"""The registry of formats, and importing and exporting through it.

A registry of formats: each module names its format and gives `sniff(data, filename)` (does
this file look like mine?), `read(data, filename)` (every question of the file as a candidate
or a refusal; FileError when the file cannot be read) and, where holdout writes the format,
`export(questions)`. `import_file` adds what all formats share: the choice of format
(`auto` sniffs), stable unique slugs and validation by the bank's schemas (question_bank.base).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from question_bank.interop import gift, moodle_xml, qti
from question_bank.interop.base import BROKEN, FileError, FileResult, Refused, Slugs, finish
from question_bank.types import has_variants

MAX_FILE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Format:
    name: str
    sniff: Callable[[bytes, str], bool]
    read: Callable[[bytes, str], list[Any]]
    export: Callable[[list[dict[str, Any]]], bytes] | None = None
    # The file name an export is written under by default, and the types it writes.
    export_name: str = ""
    exported_types: tuple[str, ...] = ()
    # Types whose questions with variants it writes too (Moodle's calculated questions).
    variant_types: tuple[str, ...] = ()


FORMATS: dict[str, Format] = {}


def register(fmt: Format) -> None:
    FORMATS[fmt.name] = fmt


# Sniffing order: the XML formats look at their root element; GIFT is what is left of text.
register(
    Format(
        moodle_xml.NAME,
        moodle_xml.sniff,
        moodle_xml.read,
        moodle_xml.export,
        "questions.xml",
        moodle_xml.EXPORTED_TYPES,
        ("numeric",),
    )
)
register(Format(qti.NAME, qti.sniff, qti.read, qti.export, "questions-qti.zip", qti.EXPORTED_TYPES))
register(Format(gift.NAME, gift.sniff, gift.read))

IMPORT_FORMATS = ("auto", *FORMATS)
EXPORT_FORMATS = tuple(name for name, fmt in FORMATS.items() if fmt.export is not None)


def detect(data: bytes, filename: str) -> Format:
    for fmt in FORMATS.values():
        if fmt.sniff(data, filename):
            return fmt
    raise FileError(f"{filename}: not a Moodle XML, GIFT or QTI file")


def import_data(
    data: bytes, filename: str, fmt: str = "auto", slugs: Slugs | None = None
) -> FileResult:
    """Every question of one file: imported (validated, slugged) or refused with a reason. A
    file that cannot be read at all has `error` set and nothing imported."""
    slugs = slugs if slugs is not None else Slugs()
    result = FileResult(path=filename, format=None if fmt == "auto" else fmt)
    try:
        if fmt != "auto" and fmt not in FORMATS:
            raise FileError(f"unknown format {fmt!r}; use one of {', '.join(IMPORT_FORMATS)}")
        if len(data) > MAX_FILE_BYTES:
            raise FileError(f"{filename} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
        chosen = detect(data, filename) if fmt == "auto" else FORMATS[fmt]
        result.format = chosen.name
        items = chosen.read(data, filename)
    except FileError as exc:
        result.error = str(exc)
        return result
    except BROKEN as exc:
        result.error = (
            f"{filename}: the file is malformed and cannot be read ({type(exc).__name__})"
        )
        return result
    result.questions, result.refused = finish(items, slugs)
    return result


def import_paths(
    paths: list[Path], fmt: str = "auto", taken: set[str] | None = None
) -> list[FileResult]:
    slugs = Slugs(taken)
    results = []
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            results.append(
                FileResult(
                    path=str(path), format=None, error=f"cannot read {path}: {exc.strerror or exc}"
                )
            )
            continue
        results.append(import_data(data, str(path), fmt, slugs))
    return results


def exportable(
    questions: list[dict[str, Any]], fmt: str
) -> tuple[list[dict[str, Any]], list[Refused]]:
    """The questions this format writes so that they import back as they are, and the others
    with the reason: code questions, and questions with variants (a per-student parameter, which
    would need Moodle's calculated types)."""
    chosen = FORMATS.get(fmt)
    if chosen is None or chosen.export is None:
        raise FileError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    kept, skipped = [], []
    for question in questions:
        if question["type"] not in chosen.exported_types:
            skipped.append(
                Refused(question["slug"], f"{question['type']} questions are not written")
            )
        elif has_variants(question["data"]) and question["type"] not in chosen.variant_types:
            skipped.append(Refused(question["slug"], "a question with variants (parameters)"))
        else:
            kept.append(question)
    return kept, skipped


def export_questions(questions: list[dict[str, Any]], fmt: str) -> bytes:
    """What `exportable` keeps, in the format."""
    kept, _ = exportable(questions, fmt)
    export = FORMATS[fmt].export
    assert export is not None
    return export(kept)


__all__ = [
    "EXPORT_FORMATS",
    "FORMATS",
    "IMPORT_FORMATS",
    "FileError",
    "FileResult",
    "Format",
    "Refused",
    "detect",
    "export_questions",
    "import_data",
    "import_paths",
]
