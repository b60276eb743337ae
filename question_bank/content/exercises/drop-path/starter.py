import numpy as np


def drop_path(x, p, training=True, rng=None):
    """Drop whole examples (axis 0) with probability p; scale the kept ones by 1 / (1 - p).

    Returns a new array with x's shape and dtype. training=False or p == 0: x unchanged.
    """
    # TODO
    raise NotImplementedError
