import numpy as np


def l1_penalty(w, lam):
    if lam < 0:
        raise ValueError("lam must be >= 0")
    return lam * np.abs(w).sum(), lam * np.sign(w)
