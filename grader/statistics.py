"""What each statistical check of an exercise can tell: sample size, false-fail bound and power,
measured on the reference's outputs (trusted parent only: data in, numbers out)."""

from __future__ import annotations

from typing import Any

from grader.checks import StepContext, statistic
from grader.spec import Exercise
from grader.values import apply_mutation, materialize

ACTIONS = ("call", "new", "method")


def statistics_report(
    exercise: Exercise, refs: dict[int, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """One entry per statistical check (`mean`, `frequency`, `independent`, `uniform`): where it is,
    `n`, `false_fail` (its delta), `bound` and `power` (the smallest deviation it detects with
    probability >= 0.999), evaluated on the reference outcome `refs` (as `reference_outputs`)."""
    found: list[dict[str, Any]] = []
    for i, test in enumerate(exercise.tests):
        outcome = refs.get(i) or []
        lets = {k: materialize(v, {}) for k, v in test.let.items()}
        for j, step in enumerate(test.steps):
            if "mutate" in step:
                apply_mutation(lets, step["mutate"])
                continue
            if j >= len(outcome):
                break
            action = next((a for a in ACTIONS if a in step), None)
            body = step[action] if action else {}
            rep = 0 if step.get("repeat", 1) > 1 else None
            args = materialize(body.get("args", []), lets, rep)
            kwargs = materialize(body.get("kwargs", {}), lets, rep)
            ctx = StepContext(
                step=step,
                index=j,
                got=outcome[j],
                ref=outcome[j],
                args=args,
                kwargs=kwargs,
                lets=lets,
                others=outcome[:j],
            )
            for check in step.get("expect", []):
                stat = statistic(check, ctx)
                if stat is not None:
                    found.append({"test": test.name, "step": j + 1, **stat.to_dict()})
    return found


def describe(entry: dict[str, Any]) -> str:
    """One line for `holdout bank check`."""
    return (
        f"{entry['test']} (step {entry['step']}): {entry['check']}, {entry['what']}, "
        f"n = {entry['n']}: false fail <= {entry['false_fail']:g}, "
        f"tolerance ±{entry['bound']:.4f}, "
        f"detects a deviation >= {entry['power']:.4f} with probability >= 0.999"
    )
