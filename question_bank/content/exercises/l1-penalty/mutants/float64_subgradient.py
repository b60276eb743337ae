# misconception: the subgradient is float64 even for float32 weights; give it w's dtype (e.g. with .astype(w.dtype))
# expect: float32 weights: same dtype as w
# np.where with Python floats builds a float64 array whatever the dtype of w.
import numpy as np


def l1_penalty(w, lam):
    if lam < 0:
        raise ValueError("lam must be >= 0")
    subgrad = np.where(w > 0, float(lam), np.where(w < 0, -float(lam), 0.0))
    return float(lam * np.abs(w).sum()), subgrad
