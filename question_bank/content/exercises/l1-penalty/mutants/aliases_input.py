# misconception: the subgradient is built in w itself (subgrad = w does not copy), which changes the caller's weights; start from a new array
# expect: inputs are left unchanged: must not be modified
# "subgrad = w" does not copy: the masks then overwrite the caller's weights.
import numpy as np


def l1_penalty(w, lam):
    if lam < 0:
        raise ValueError("lam must be >= 0")
    penalty = float(lam * np.abs(w).sum())
    subgrad = w
    subgrad[subgrad > 0] = lam
    subgrad[subgrad < 0] = -lam
    return penalty, subgrad
