import math

import numpy as np


def dropout(x, p, training=True, rng=None):
    """Inverted dropout (as in the dropout exercise): a new array, survivors scaled by 1/(1-p),
    x unchanged when training=False or p == 0, all zeros when p == 1, ValueError unless 0 <= p <= 1."""
    raise NotImplementedError


def l2_gradient(params, grads, weight_decay):
    """A new dict: grads["W..."] + weight_decay * params["W..."]; biases ("b...") unchanged (copied).
    ValueError when weight_decay < 0."""
    raise NotImplementedError


class EarlyStopping:
    """EarlyStopping(patience=10, min_delta=0.0); step(val_loss, weights) -> bool, with the
    attributes best_loss, best_epoch (the first call is epoch 0) and best_weights (copies)."""

    def __init__(self, patience=10, min_delta=0.0):
        raise NotImplementedError

    def step(self, val_loss, weights):
        raise NotImplementedError
