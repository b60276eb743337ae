# misconception: the survivors must be divided by 1 - p (inverted dropout keeps the expected value); this looks like leaving them unscaled or multiplying by 1 - p
# Mixes up the two conventions: multiplies survivors by (1 - p) as old-style dropout does at test time.
# expect: train-validation gap: split apart
# expect: validation loss at the best epoch: still overfits
# expect: survivors are scaled by 1/(1-p): 0 or x / (1 - p)
# expect: expected value is preserved: the mean over 20000 values is
import numpy as np


def dropout(x, p, training=True, rng=None):
    if not 0 <= p <= 1:
        raise ValueError("p must be in [0, 1]")
    if not training:
        return x.copy()
    if rng is None:
        rng = np.random.default_rng()
    mask = rng.random(x.shape) >= p
    return (x * mask * (1 - p)).astype(x.dtype)
