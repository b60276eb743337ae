import numpy as np


def l2_gradient(params, grads, weight_decay):
    """Add the gradient of the L2 penalty (weight_decay / 2) * sum(W**2) to the data gradients.

    params, grads: dicts of numpy arrays with the same keys ("W1", "b1", "W2", ...)
    weight_decay: lambda >= 0
    Returns a new dict of new arrays; only the weights ("W...") are decayed, never the biases.
    Raises ValueError when weight_decay < 0 or when params and grads have different keys.
    """
    # Your code here
    raise NotImplementedError
