import numpy as np


def l1_penalty(w, lam):
    if lam < 0:
        raise ValueError("lam must be >= 0")
    subgrad = np.zeros_like(w)
    subgrad[w > 0] = lam
    subgrad[w < 0] = -lam
    penalty = 0.0
    for value in np.ravel(w):
        penalty += lam * abs(float(value))
    return penalty, subgrad
