import numpy as np


def l1_penalty(w, lam):
    """Return (lam * sum(|w|), lam * sign(w)) with sign(0) = 0.

    The subgradient is a new array with w's shape and dtype; w is left unchanged.
    Raise ValueError when lam < 0.
    """
    # TODO
    raise NotImplementedError
