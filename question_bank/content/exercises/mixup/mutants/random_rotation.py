# misconception: perm is a random rotation of 0..N-1, not a uniformly random permutation; use rng.permutation(N)
# expect: the pairing is a random permutation: all N! orderings
# Pairs each example with the one k places further on, k random: perm[0] is uniform, but only N of
# the N! permutations can occur.
import numpy as np


def mixup(x, y, alpha, rng=None):
    x = np.asarray(x)
    y = np.asarray(y)
    if not alpha > 0:
        raise ValueError("alpha must be > 0")
    if y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError("bad shapes")
    rng = np.random.default_rng() if rng is None else rng
    lam = float(rng.beta(alpha, alpha))
    perm = np.roll(np.arange(x.shape[0]), int(rng.integers(0, x.shape[0])))
    return lam * x + (1 - lam) * x[perm], lam * y + (1 - lam) * y[perm], lam, perm
