# misconception: for an all-zero w this returns w itself as the subgradient; always return a new array
# expect: a zero weight gets subgradient 0: never w itself
# Takes a shortcut for an all-zero w and returns w itself as the subgradient: the values are
# right, but the caller's weights and the gradient are now the same array.
import numpy as np


def l1_penalty(w, lam):
    w = np.asarray(w)
    if lam < 0:
        raise ValueError("lam must be >= 0")
    if not np.any(w):
        return 0.0, w
    return float(lam * np.abs(w).sum()), (lam * np.sign(w)).astype(w.dtype)
