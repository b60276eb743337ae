import numpy as np


def weight_decay_step(w, grad, lr, weight_decay):
    """Return w after one SGD step on the loss plus (weight_decay / 2) * ||w||^2.

    w, grad: arrays of the same shape; lr > 0; weight_decay >= 0.
    The result is a new array with w's shape and dtype; w and grad are left unchanged.
    """
    # TODO: check the arguments (raise ValueError), then compute the update.
    raise NotImplementedError
