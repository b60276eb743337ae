# misconception: this is the L2 penalty (squared weights, gradient proportional to w); L1 uses |w| and sign(w)
# expect: worked example: penalty is lam * sum(|w|)
# Mixes up the two penalties: squared weights and a gradient proportional to w.
import numpy as np


def l1_penalty(w, lam):
    if lam < 0:
        raise ValueError("lam must be >= 0")
    return float(lam * np.sum(w * w)), 2 * lam * w
