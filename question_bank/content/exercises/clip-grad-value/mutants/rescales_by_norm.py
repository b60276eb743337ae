# misconception: clipping by value caps each entry at ±clip_value separately; this looks like rescaling each array by its norm (clipping by norm)
# expect: worked example: clip every entry to [-clip_value, clip_value]
# Confuses the two kinds of clipping: rescales each array to norm clip_value instead.
import numpy as np


def clip_grad_value(grads, clip_value):
    if clip_value <= 0:
        raise ValueError("clip_value must be > 0")
    def clip(g):
        n = np.linalg.norm(g)
        return g * (clip_value / n) if n > clip_value else g.copy()

    if isinstance(grads, dict):
        return {k: clip(g) for k, g in grads.items()}
    return [clip(g) for g in grads]
