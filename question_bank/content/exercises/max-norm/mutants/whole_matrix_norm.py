# misconception: one norm of the whole matrix is used; max-norm takes one norm per column (or row with axis=1)
# expect: worked example: each column whose norm exceeds c
# Uses the norm of the whole matrix (Frobenius) instead of one norm per column.
import numpy as np


def max_norm(W, c, axis=0):
    if np.ndim(W) != 2 or c <= 0 or axis not in (0, 1):
        raise ValueError("bad arguments")
    norm = np.linalg.norm(W)
    return W * (c / norm) if norm > c else W.copy()
