# misconception: with lam = 0 the result is float64 (np.zeros defaults to float64); keep w's dtype on every path, e.g. np.zeros_like(w)
# expect: lam 0 with float32 weights: float32 in, float32 out
# Returns np.zeros(w.shape) when lam is 0: float64 even for float32 weights, on that path only.
import numpy as np


def l1_penalty(w, lam):
    w = np.asarray(w)
    if lam < 0:
        raise ValueError("lam must be >= 0")
    if lam == 0:
        return 0.0, np.zeros(w.shape)
    return float(lam * np.abs(w).sum()), (lam * np.sign(w)).astype(w.dtype)
