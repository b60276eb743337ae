# misconception: every array is clipped by its own norm; compute one global norm over all arrays together and scale every array by the same factor
# expect: one global norm for all arrays: scaled by the same factor
# Clips every array by its own norm, which changes the direction of the overall gradient.
import numpy as np


def clip_grad_norm(grads, max_norm, eps=1e-6):
    if max_norm <= 0 or eps < 0:
        raise ValueError("bad arguments")
    items = grads.items() if isinstance(grads, dict) else enumerate(grads)
    clipped = {}
    squares = 0.0
    for key, g in items:
        n = float(np.sqrt(np.sum(g.astype(np.float64) ** 2)))
        squares += n * n
        clipped[key] = g * (max_norm / (n + eps)) if n > max_norm else g.copy()
    if isinstance(grads, dict):
        return clipped, squares ** 0.5
    return [clipped[i] for i in range(len(grads))], squares ** 0.5
