# misconception: the absolute weights are averaged; the L1 penalty sums them
# expect: worked example: penalty is lam * sum(|w|)
# Averages the absolute values instead of summing them.
import numpy as np


def l1_penalty(w, lam):
    if lam < 0:
        raise ValueError("lam must be >= 0")
    return float(lam * np.abs(w).mean()), (lam * np.sign(w)).astype(w.dtype)
