# misconception: a zero weight gets +lam; sign(0) = 0, so a zero weight gets subgradient 0
# expect: a zero weight gets subgradient 0: sign(0) = 0
# Picks "+lambda" for w >= 0, so zero weights are pushed away from zero.
import numpy as np


def l1_penalty(w, lam):
    if lam < 0:
        raise ValueError("lam must be >= 0")
    subgrad = np.where(w >= 0, lam, -lam).astype(w.dtype)
    return float(lam * np.abs(w).sum()), subgrad
