import numpy as np


def l1_penalty(w, lam):
    w = np.asarray(w)
    if not lam >= 0:
        raise ValueError(f"lam must be >= 0, got {lam!r}")
    penalty = float(lam * np.sum(np.abs(w), dtype=np.float64))
    subgrad = (lam * np.sign(w)).astype(w.dtype, copy=False)
    return penalty, subgrad
