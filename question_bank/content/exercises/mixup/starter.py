import numpy as np


def mixup(x, y, alpha, rng=None):
    """Mix a batch with a permutation of itself.

    lam ~ Beta(alpha, alpha) and perm, a random permutation of range(N), both from rng.
    Returns (lam * x + (1 - lam) * x[perm], lam * y + (1 - lam) * y[perm], lam, perm).
    """
    # TODO
    raise NotImplementedError
