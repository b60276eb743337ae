import numpy as np


def mc_dropout_predict(x, params, p, T, rng=None):
    """Run T forward passes with inverted dropout on the hidden layer; return (mean, var).

    h = relu(x @ W1 + b1); each pass: y = (h * mask / (1 - p)) @ W2 + b2 with a fresh mask.
    mean and var (dividing by T) are taken over the T passes, elementwise, shape (N, K).
    """
    # TODO
    raise NotImplementedError
