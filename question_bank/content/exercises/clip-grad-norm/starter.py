import numpy as np


def clip_grad_norm(grads, max_norm, eps=1e-6):
    """Clip a list or dict of gradient arrays by their global L2 norm.

    Returns (clipped, total_norm): clipped has the same kind of container as grads, with new
    arrays; total_norm is the norm before clipping.
    """
    # TODO: validate, compute the global norm, scale only when it exceeds max_norm.
    raise NotImplementedError
