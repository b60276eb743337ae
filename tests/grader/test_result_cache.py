"""The result cache: what grading learns once per exercise version, shared by grading processes.

Without it, the first wrong answer to `dropout` in each grading process runs the reference and 13
mutants (two runs each) before its feedback can name the misconception: a burst in the middle of
an exam, paid again by every worker. The tests grade with real sandboxes and count the sandboxed
runs each grader makes.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from grader_helpers import own_base_uid

from grader import Exercise, Grader, load_exercise
from grader.cache import ResultCache
from question_bank.loader import BUNDLED_DIR

DROPOUT = BUNDLED_DIR / "exercises" / "dropout"
# A wrong answer whose feedback names its misconception (it is one of the known mutants).
# Its graders take uid ranges of their own (own_base_uid 4-6): one worker runs these tests in turn.
pytestmark = pytest.mark.xdist_group("result-cache")

WRONG = (DROPOUT / "mutants" / "keeps_with_probability_p.py").read_text()


@pytest.fixture(scope="module")
def dropout() -> Exercise:
    return load_exercise(DROPOUT)


class Counted:
    """A grader whose sandboxed runs are counted (each `pool.run` is one sandboxed run)."""

    def __init__(self, grader: Grader) -> None:
        self.grader, self.runs = grader, 0
        run = grader.pool.run

        def counting(*args: Any, **kwargs: Any) -> Any:
            self.runs += 1
            return run(*args, **kwargs)

        grader.pool.run = counting  # type: ignore[method-assign]


@pytest.fixture
def graders(tmp_path: Path) -> Iterator[Any]:
    """Graders sharing one cache folder, as a machine's grading processes do; uids of their own."""
    made: list[Grader] = []

    def make(n: int, cache_dir: Path = tmp_path / "cache") -> Counted:
        g = Grader(slots=1, base_uid=own_base_uid(4 + n), cache_dir=cache_dir)
        made.append(g)
        assert g.sandbox_status()["ok"]  # its probe's runs are not counted
        return Counted(g)

    yield make
    for g in made:
        g.close()


def test_a_second_grading_process_reads_what_the_first_learned(
    graders: Any, dropout: Exercise
) -> None:
    first = graders(0)
    learned = first.grader.grade(dropout, WRONG)
    assert "Possible misconception: this keeps each element" in learned.feedback
    # The reference, the submission (visible and hidden runs) and two runs per known mutant.
    assert first.runs > 2 + 2 * 10

    second = graders(1)
    report = second.grader.grade(dropout, WRONG)
    assert second.runs == 2  # the submission's own visible and hidden runs, nothing else
    assert report.feedback == learned.feedback
    assert report.score == learned.score
    assert [t.message for t in report.tests] == [t.message for t in learned.tests]


def test_prepare_runs_everything_ahead_so_grading_runs_only_the_submission(
    graders: Any, dropout: Exercise
) -> None:
    warm = graders(0)
    warm.grader.prepare(dropout)
    assert warm.runs > 1 + 2 * 10
    again = warm.runs
    warm.grader.prepare(dropout)
    assert warm.runs == again  # learned once per version

    serving = graders(1)
    report = serving.grader.grade(dropout, WRONG)
    assert serving.runs == 2
    assert "Possible misconception: this keeps each element" in report.feedback


def test_a_damaged_cache_file_is_computed_again_not_an_error(
    graders: Any, dropout: Exercise, tmp_path: Path
) -> None:
    graders(0).grader.prepare(dropout)
    results = list((tmp_path / "cache").glob("*.result"))
    assert len(results) >= 2  # the reference's outputs and the mutants' profiles
    damage = [
        b"",
        b"not json\n",
        b'{"value": [[0, {"$nd": 7}]], "blobs": []}\n',  # an array it does not hold
        b'{"value": {"$dict": []}, "blobs": [99]}\n',  # a blob longer than the file
        b'{"value": [["m", "e", {"$dict": []}, 5]], "blobs": []}\n',  # the wrong shape
    ]
    for i, path in enumerate(results):
        path.write_bytes(damage[i % len(damage)])

    damaged = graders(1)
    report = damaged.grader.grade(dropout, WRONG)
    assert "Possible misconception: this keeps each element" in report.feedback
    assert damaged.runs > 2 + 2 * 10  # computed again...
    cache = ResultCache(tmp_path / "cache")
    stored = cache.get("reference", dropout.fingerprint) or []
    assert {i for i, _ in stored} == set(range(len(dropout.tests)))  # ...and kept

    after = graders(2)
    assert after.grader.grade(dropout, WRONG).feedback == report.feedback
    assert after.runs == 2


def test_a_changed_exercise_is_never_answered_from_the_cache(
    graders: Any, dropout: Exercise
) -> None:
    graders(0).grader.prepare(dropout)
    data = dropout.to_dict()

    # One mutant fewer: the same reference outputs, the profiles learned again.
    data["mutants"] = {
        n: s for n, s in data["mutants"].items() if n != "keeps_with_probability_p.py"
    }
    fewer = Exercise.from_dict(data)
    explained = [n for n in fewer.mutants if fewer.mutant_misconception(n)]
    g = graders(1)
    report = g.grader.grade(fewer, WRONG)
    assert g.runs == 2 + 2 * len(explained)
    assert "this keeps each element" not in report.feedback  # that mutant is gone

    # A test fewer: another version of the exercise, its reference run again too.
    data["tests"] = data["tests"][:-1]
    data.pop("points", None)
    shorter = Exercise.from_dict(data)
    assert shorter.fingerprint != dropout.fingerprint
    g = graders(2)
    g.grader.grade(shorter, WRONG)
    assert g.runs >= 1 + 2 + len(explained)


def test_submitted_code_can_neither_read_nor_write_the_cache(
    graders: Any, dropout: Exercise
) -> None:
    """A job that could write here could poison what every later grade is compared with. The
    folder is where jobs would otherwise see it (not under the private /tmp, nor a path hidden by
    default, as an operator's instance folder may be): the grader hides it, and it is private to
    the grader's user besides."""
    base = Path("/var/cache") / f"holdout-test-{uuid.uuid4().hex[:12]}"
    folder = base / "cache"
    try:
        g = graders(0, folder)
        g.grader.prepare(dropout)
        probe = f"""
import os
seen = [os.path.exists({str(folder)!r})]
for attempt in (lambda: os.listdir({str(folder)!r}),
                lambda: open({str(folder / "poison.result")!r}, "wb").write(b"x")):
    try:
        seen.append(repr(attempt()))
    except OSError as exc:
        seen.append(type(exc).__name__)
print("SEEN", seen)
""" + (DROPOUT / "reference.py").read_text()
        report = g.grader.grade(dropout, probe)
        seen = report.output.split("SEEN", 1)[1]
        # Gone with all of /var (every top-level directory is hidden); in a directory a job
        # could see, an empty read-only folder would stand in its place. Either way: none of its
        # files, no writing.
        assert seen.strip() in (
            "[False, 'FileNotFoundError', 'FileNotFoundError']",
            "[True, '[]', 'OSError']",
        ), seen
        assert not (folder / "poison.result").exists()
        assert report.score == report.max_score
    finally:
        shutil.rmtree(base, ignore_errors=True)
