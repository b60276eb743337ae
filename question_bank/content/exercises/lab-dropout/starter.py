import numpy as np


def dropout(x, p, training=True, rng=None):
    """Apply inverted dropout to the array x.

    x: float array of any shape (never modified)
    p: probability of zeroing each element, 0 <= p <= 1
    training: when False, x comes back unchanged
    rng: a numpy Generator; use np.random.default_rng() when it is None
    """
    # Your code here
    raise NotImplementedError
