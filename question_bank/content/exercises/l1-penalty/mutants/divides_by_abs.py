# misconception: w / |w| is 0/0 = nan at zero; use np.sign(w), which is 0 at 0
# expect: a zero weight gets subgradient 0: must be finite
# Writes sign(w) as w / |w|, which is 0/0 = nan at zero.
import numpy as np


def l1_penalty(w, lam):
    if lam < 0:
        raise ValueError("lam must be >= 0")
    subgrad = lam * w / np.abs(w)
    return float(lam * np.abs(w).sum()), subgrad
