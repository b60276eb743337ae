"""Lab exercises (SPEC.md, "Lab exercises"): the student's regularizers inside the lab's training
loop in the sandbox, graded by their effect on the curves; the curves come back as data."""

from __future__ import annotations

import copy
import textwrap
from typing import Any

import numpy as np
import pytest
from grader_helpers import full_marks

from grader import Exercise, Grader, GradeReport
from grader.curves import KEYS, RunError, eval_matches_weights, expected_stop, read_run

DROPOUT = """
def dropout(x, p, training=True, rng=None):
    if not 0 <= p <= 1:
        raise ValueError("p must be in [0, 1]")
    if not training or p == 0:
        return x.copy()
    rng = np.random.default_rng() if rng is None else rng
    keep = rng.random(x.shape) >= p
    return np.where(keep, x / (1 - p), 0.0)
"""
L2 = """
def l2_gradient(params, grads, weight_decay):
    return {k: g + weight_decay * params[k] if k.startswith("W") else g.copy()
            for k, g in grads.items()}
"""
STOPPER = """
class EarlyStopping:
    def __init__(self, patience=10, min_delta=0.0):
        self.patience, self.min_delta = patience, min_delta
        self.best_loss, self.best_epoch, self.best_weights = math.inf, None, None
        self.epoch, self.waited = -1, 0

    def step(self, val_loss, weights):
        self.epoch += 1
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch, self.waited = val_loss, self.epoch, 0
            self.best_weights = {k: w.copy() for k, w in weights.items()}
        else:
            self.waited += 1
        return self.waited >= self.patience
"""
HEADER = "import math\n\nimport numpy as np\n"
REFERENCE = HEADER + DROPOUT + L2 + STOPPER

# A small version of the bundled labs: cheap enough to grade many submissions.
LAB = {
    "pieces": {
        "dropout": "dropout",
        "l2_gradient": "l2_gradient",
        "early_stopping": "EarlyStopping",
    },
    "data": {"task": "moons", "n_train": 60, "n_val": 100, "noise": 0.35, "seed": 1},
    "model": {"hidden": [32, 32]},
    "train": {"epochs": 60, "optimizer": "adam", "lr": 0.005, "seed": 0},
    "regularize": {"dropout": 0.5, "weight_decay": 0.01, "patience": 8, "min_delta": 0.0},
}


def lab_tests(tolerance: float = 0.08) -> list[dict[str, Any]]:
    def one(name: str, check: dict[str, Any], points: int = 1) -> dict[str, Any]:
        return {"name": name, "points": points, "steps": [{"train": {}, "expect": [check]}]}

    return [
        # Before the visible runs: the report must still show a visible one.
        {
            "name": "hidden run",
            "hidden": True,
            "steps": [{"train": {"dropout_seed": 7}, "expect": [{"check": "curves"}]}],
        },
        {
            "name": "dropout alone",
            "steps": [
                {
                    "call": {
                        "args": [{"$array": {"full": 2.0, "shape": [8]}}, 0.5],
                        "kwargs": {"training": False},
                    },
                    "expect": [{"check": "equal"}],
                }
            ],
        },
        {
            "name": "biases keep their gradient",
            "let": {
                "params": {
                    "W1": {"$array": {"values": [[1.0, -2.0]]}},
                    "b1": {"$array": {"values": [0.5, 4.0]}},
                },
                "grads": {
                    "W1": {"$array": {"values": [[0.25, 0.5]]}},
                    "b1": {"$array": {"values": [1.0, 2.0]}},
                },
            },
            "steps": [
                {
                    "call": {
                        "target": "l2_gradient",
                        "args": [{"$ref": "params"}, {"$ref": "grads"}, 0.5],
                    },
                    "expect": [{"check": "equal"}],
                }
            ],
        },
        {
            "name": "stops after patience",
            "steps": [
                {"new": {"target": "EarlyStopping", "kwargs": {"patience": 1}}},
                {"method": {"name": "step", "args": [1.0, {}]}, "expect": [{"check": "equal"}]},
                {"method": {"name": "step", "args": [2.0, {}]}, "expect": [{"check": "equal"}]},
            ],
        },
        one("curves", {"check": "curves"}),
        one("eval mode", {"check": "eval_matches_weights"}, 2),
        one("best validation loss", {"check": "best_val_loss", "tolerance": tolerance}, 2),
        one("gap", {"check": "train_val_gap", "tolerance": tolerance}, 2),
        one("stopping", {"check": "stopping_epoch"}, 2),
        one("restored", {"check": "restored_weights"}, 2),
    ]


def lab_exercise(
    lab: dict[str, Any] | None = None,
    tests: list[dict[str, Any]] | None = None,
    **limits: float,
) -> Exercise:
    return Exercise.from_dict(
        {
            "slug": "small-lab",
            "title": "A small lab",
            "entry": {
                "name": "dropout",
                "kind": "function",
                "signature": "dropout(x, p, training=True, rng=None)",
            },
            "limits": {"wall_seconds": 20, "cpu_seconds": 10, **limits},
            "lab": lab or LAB,
            "tests": tests or lab_tests(),
            "reference": REFERENCE,
        }
    )


@pytest.fixture(scope="module")
def exercise() -> Exercise:
    return lab_exercise()


def by_name(report: GradeReport) -> dict[str, Any]:
    return {t.name: t for t in report.tests}


def failed(report: GradeReport) -> dict[str, str]:
    return {t.name: t.detail for t in report.tests if not t.passed}


def replace(source: str, old: str, new: str) -> str:
    assert old in source, old
    return source.replace(old, new)


# ------------------------------------------------------------------------------------------------
# a correct lab


def test_a_correct_lab_gets_full_marks_and_the_agreed_report(
    grader: Grader, exercise: Exercise
) -> None:
    report = grader.grade(exercise, REFERENCE)
    assert full_marks(report), failed(report)
    lab = report.to_dict()["lab"]
    assert set(lab) == {"curves", "epochs", "metric"} and lab["metric"] == "loss"
    assert set(lab["curves"]) == set(lab["epochs"]) == {"baseline", "yours", "reference"}
    for name in ("baseline", "yours", "reference"):
        curves, epochs = lab["curves"][name], lab["epochs"][name]
        assert set(curves) == {"train", "val", "train_acc", "val_acc"}
        n = len(curves["val"])
        assert all(len(c) == n and all(type(v) is float for v in c) for c in curves.values())
        assert set(epochs) == {"best", "stopped"} and type(epochs["best"]) is int
        assert epochs["best"] == int(np.argmin(curves["val"])) + 1  # 1-based, index 0 is epoch 1
    # The baseline runs all its epochs and overfits; the regularized runs stop early.
    assert lab["epochs"]["baseline"]["stopped"] is None
    assert len(lab["curves"]["baseline"]["val"]) == LAB["train"]["epochs"]
    stopped = lab["epochs"]["yours"]["stopped"]
    assert isinstance(stopped, int) and stopped == len(lab["curves"]["yours"]["val"])
    val = np.array(lab["curves"]["yours"]["val"])
    assert expected_stop(val, 8, 0.0)[0] == stopped
    # The reference graded as a submission reproduces the reference run exactly.
    assert lab["curves"]["yours"] == lab["curves"]["reference"]
    assert lab["curves"]["baseline"] != lab["curves"]["yours"]


def test_the_curves_shown_come_from_the_visible_run(grader: Grader, exercise: Exercise) -> None:
    report = grader.grade(exercise, REFERENCE)
    shown = report.to_dict()["lab"]["curves"]["yours"]["val"]
    refs = grader.reference_outputs(exercise)
    hidden = next(i for i, t in enumerate(exercise.tests) if t.hidden)
    visible = next(i for i, t in enumerate(exercise.tests) if t.name == "curves")
    assert [float(v) for v in refs[visible][0]["out"]["val"]] == shown
    assert [float(v) for v in refs[hidden][0]["out"]["val"]] != shown  # another stream


def test_a_lab_counts_its_cpu_time(grader: Grader, exercise: Exercise) -> None:
    report = grader.grade(exercise, REFERENCE)
    assert {"reference_ms", "run_ms", "lab_ms", "total_ms"} <= set(report.timings)


# ------------------------------------------------------------------------------------------------
# wrong regularizers lose the right points, with what the curves show


def test_no_inverted_scaling_shows_in_the_gap(grader: Grader) -> None:
    # Dropout alone, all 60 epochs: over 20 streams the reference's gap is 0.158 (sd 0.006, widest
    # deviation 0.014), without the scaling 0.342.
    lab = {**LAB, "pieces": {"dropout": "dropout"}}
    tests = [
        {
            "name": "gap",
            "steps": [{"train": {}, "expect": [{"check": "train_val_gap", "tolerance": 0.05}]}],
        },
        {
            "name": "eval mode",
            "steps": [{"train": {}, "expect": [{"check": "eval_matches_weights"}]}],
        },
    ]
    ex = lab_exercise(lab, tests)
    assert full_marks(grader.grade(ex, REFERENCE))
    fails = failed(grader.grade(ex, replace(REFERENCE, "x / (1 - p)", "x")))
    assert set(fails) == {"gap"}
    assert (
        "split apart more than they should" in fails["gap"] and "for the reference" in fails["gap"]
    )


def test_dropout_in_eval_mode_shows_in_the_recorded_curve(
    grader: Grader, exercise: Exercise
) -> None:
    wrong = replace(REFERENCE, "    if not training or p == 0:\n", "    if p == 0:\n")
    report = grader.grade(exercise, wrong)
    fails = failed(report)
    assert "dropout alone" in fails
    assert "eval mode" in fails
    assert "without dropout" in fails["eval mode"] and "training=False" in fails["eval mode"]
    assert by_name(report)["eval mode"].score == 0


def test_decay_on_biases_fails_the_bias_test(grader: Grader, exercise: Exercise) -> None:
    wrong = replace(
        REFERENCE,
        'g + weight_decay * params[k] if k.startswith("W") else g.copy()',
        "g + weight_decay * params[k]",
    )
    report = grader.grade(exercise, wrong)
    assert "biases keep their gradient" in failed(report)


def test_decay_on_biases_changes_a_deterministic_run(grader: Grader) -> None:
    lab = {**LAB, "pieces": {"l2_gradient": "l2_gradient"}, "regularize": {"weight_decay": 0.05}}
    tests = [
        {
            "name": "curves match",
            "points": 2,
            "steps": [{"train": {}, "expect": [{"check": "curves_match"}]}],
        },
        {
            "name": "gap",
            "steps": [{"train": {}, "expect": [{"check": "train_val_gap", "tolerance": 1e-4}]}],
        },
    ]
    ex = Exercise.from_dict(
        {
            "slug": "small-decay-lab",
            "title": "Decay",
            "entry": {
                "name": "l2_gradient",
                "kind": "function",
                "signature": "l2_gradient(params, grads, weight_decay)",
            },
            "lab": lab,
            "tests": tests,
            "reference": HEADER + L2,
        }
    )
    assert full_marks(grader.grade(ex, HEADER + L2))
    wrong = replace(
        HEADER + L2,
        'g + weight_decay * params[k] if k.startswith("W") else g.copy()',
        "g + 0.05 * params[k]",
    )
    fails = failed(grader.grade(ex, wrong))
    assert "leaves the reference's at epoch" in fails["curves match"]
    assert "for the reference" in fails["gap"]


def test_patience_off_by_one_is_read_off_the_curve(grader: Grader, exercise: Exercise) -> None:
    wrong = replace(
        REFERENCE, "return self.waited >= self.patience", "return self.waited > self.patience"
    )
    report = grader.grade(exercise, wrong)
    fails = failed(report)
    assert "stopping" in fails
    assert "training stops after epoch" in fails["stopping"]
    stopped = report.to_dict()["lab"]["epochs"]["yours"]["stopped"]
    assert f"your run stopped after epoch {stopped}" in fails["stopping"]
    assert "stops after patience" in fails
    assert by_name(report)["stopping"].score == 0 and by_name(report)["curves"].passed


def test_best_weights_kept_by_reference_are_not_the_best(
    grader: Grader, exercise: Exercise
) -> None:
    wrong = replace(
        REFERENCE,
        "self.best_weights = {k: w.copy() for k, w in weights.items()}",
        "self.best_weights = weights",
    )
    fails = failed(grader.grade(exercise, wrong))
    assert "restored" in fails and "independent copies" in fails["restored"]
    assert "stopping" not in fails


def test_a_missing_piece_fails_the_run_not_the_grading(grader: Grader, exercise: Exercise) -> None:
    report = grader.grade(exercise, HEADER + DROPOUT + L2)
    assert report.status == "graded"
    fails = failed(report)
    assert "EarlyStopping" in fails["curves"] and "which the lab needs" in fails["curves"]
    assert report.to_dict()["lab"]["curves"]["yours"] is None
    assert report.to_dict()["lab"]["curves"]["baseline"] is not None


# ------------------------------------------------------------------------------------------------
# curves are data: forged, NaN or huge runs are malformed output, never a crash


# The lab loop runs in the sandbox, in the harness no submission can reach (grader/seal.py), but
# what it returns is still a claim of the sandbox: the parent checks its form before any lab
# check computes with it. Here the reference's real run record, changed as a forger would.
def _reference_run(grader: Grader, exercise: Exercise) -> dict[str, Any]:
    index = next(i for i, t in enumerate(exercise.tests) if t.name == "curves")
    out = grader.reference_outputs(exercise)[index][0]["out"]
    assert isinstance(out, dict) and set(out) == KEYS
    return copy.deepcopy(out)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ('out["val"][3] = float("nan")', "not finite at epoch 4"),
        ('out["val"] = np.zeros(200_000)', "the val curve has 200000 epochs"),
        ('out["val"] = out["val"].astype(np.float32)', "not a 1-d float64 array"),
        ('out["val"] = out["val"][:-1]', "different lengths"),
        ('out["train"] = out["train"] * 0 - 1', "outside"),
        ('out["stopped"] = 3', "not the last epoch"),
        ('out.pop("weights")', "lab loop's record"),
        ('out["weights"]["W1"] = np.zeros((3, 3))', "final weights W1"),
        ("out = [out]", "lab loop's record"),
        ('out["val"] = [0.1] * 5', "not a 1-d float64 array"),
    ],
)
def test_forged_curves_are_malformed_output(
    grader: Grader, exercise: Exercise, change: str, why: str
) -> None:
    scope = {"out": _reference_run(grader, exercise), "np": np}
    exec(change, scope)
    with pytest.raises(RunError) as raised:
        read_run(scope["out"], exercise.lab)
    assert why in str(raised.value)


def test_curves_consistent_with_nothing_cannot_fool_the_weights_check(
    grader: Grader, exercise: Exercise
) -> None:
    # A forged, well-formed, lower validation curve: the parent recomputes the last value.
    out = _reference_run(grader, exercise)
    reference = read_run(out, exercise.lab)
    out["val"] = out["val"] * 0.5
    forged = read_run(out, exercise.lab)
    assert eval_matches_weights(reference, reference, {}, exercise.lab) is None
    message = eval_matches_weights(forged, reference, {}, exercise.lab)
    assert message is not None and "final weights give" in message


def test_the_lab_loop_cannot_be_replaced_from_the_submission(
    grader: Grader, exercise: Exercise
) -> None:
    # What forged the curves before the harness was sealed: the loop's module, found from the frame
    # that loads the submission and patched. The frame is refused, and no function the class
    # hierarchy reaches has the loop's module for its globals.
    source = REFERENCE + textwrap.dedent(
        """
        import sys

        try:
            sys._getframe(1).f_globals["lab"].train = None
            print("FRAME")
        except ValueError:
            print("REFUSED")
        for cls in object.__subclasses__():
            for value in list(vars(cls).values()):
                space = getattr(value, "__globals__", None)
                name = space.get("__name__") if isinstance(space, dict) else None
                if name in ("grader.lab", "grader._child"):
                    print("REACHED", name)
        """
    )
    report = grader.grade(exercise, source)
    assert "REFUSED" in report.output and "FRAME" not in report.output
    assert "REACHED" not in report.output
    assert full_marks(report), failed(report)


def test_the_pieces_run_inside_the_sandbox(grader: Grader, exercise: Exercise) -> None:
    # The training loop calls the submission's dropout in the job process: its uid, no exec.
    probe = replace(
        REFERENCE,
        "    keep = rng.random(x.shape) >= p\n",
        "    import os\n"
        "    try:\n"
        "        os.execv('/bin/true', ['true'])\n"
        "    except OSError as exc:\n"
        "        raise ValueError(f'uid {os.getuid()} exec {exc.errno}') from None\n"
        "    keep = rng.random(x.shape) >= p\n",
    )
    report = grader.grade(exercise, probe)
    text = failed(report)["curves"]
    uid = int(text.split("uid ", 1)[1].split()[0])
    assert uid in grader.uids and uid != 0
    assert "exec 1" in text  # EPERM from the seccomp filter
