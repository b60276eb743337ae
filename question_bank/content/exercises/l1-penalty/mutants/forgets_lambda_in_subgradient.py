# misconception: the subgradient is the bare sign(w); multiply it by lam
# expect: random float64 weights: subgradient is lam * sign(w)
# Returns the bare sign: right for lam = 1, wrong for every other strength.
import numpy as np


def l1_penalty(w, lam):
    if lam < 0:
        raise ValueError("lam must be >= 0")
    return float(lam * np.abs(w).sum()), np.sign(w)
