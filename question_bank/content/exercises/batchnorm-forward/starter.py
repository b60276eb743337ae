import numpy as np


def batchnorm_forward(x, gamma, beta, running_mean, running_var,
                      training=True, momentum=0.1, eps=1e-5):
    """Batch-norm forward pass for x of shape (N, D).

    Returns (out, new_running_mean, new_running_var), all new arrays.
    Training: normalize with the batch mean and biased variance, then update the running stats.
    Eval: normalize with the running stats and return them unchanged.
    """
    # TODO: validate the arguments (ValueError), then handle both modes.
    raise NotImplementedError
