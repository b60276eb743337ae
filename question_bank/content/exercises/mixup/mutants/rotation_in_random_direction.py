# misconception: perm is a rotation of 0..N-1 by a random step in a random direction, not a uniformly random permutation; use rng.permutation(N), which reaches all N! orderings
# expect: every ordering of the batch is equally likely: not uniform over 0..23
# expect: partners are not at a fixed offset: not a shift of the indices by a random step
# The "permutation" is (d * arange(N) + k) % N with d = +-1 (red-team F5): 2N of the N! orderings,
# yet perm[0] == 0 a quarter of the time and perm[0] < perm[1] half of the time in a batch of 4.
import numpy as np


def mixup(x, y, alpha, rng=None):
    x = np.asarray(x)
    y = np.asarray(y)
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0, got {alpha!r}")
    if y.ndim != 2:
        raise ValueError(f"y must be 2-D (N, K), got shape {y.shape}")
    if x.ndim < 1 or x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have the same batch size, got {x.shape} and {y.shape}")
    if rng is None:
        rng = np.random.default_rng()
    lam = float(rng.beta(alpha, alpha))
    n = x.shape[0]
    k = int(rng.integers(n))
    d = 1 if rng.random() < 0.5 else -1
    perm = (d * np.arange(n) + k) % n
    x_mix = (lam * x + (1.0 - lam) * x[perm]).astype(x.dtype, copy=False)
    y_mix = (lam * y + (1.0 - lam) * y[perm]).astype(y.dtype, copy=False)
    return x_mix, y_mix, lam, perm
