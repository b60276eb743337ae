import numpy as np


def clip_grad_value(grads, clip_value):
    """Clip every entry of every gradient array to [-clip_value, clip_value].

    grads is a list or a dict of arrays; return the same kind of container with new arrays.
    """
    # TODO
    raise NotImplementedError
