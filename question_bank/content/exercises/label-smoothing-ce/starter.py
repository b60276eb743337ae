import numpy as np


def label_smoothing_ce(logits, labels, smoothing=0.1):
    """Mean cross-entropy between softmax(logits) and label-smoothed targets.

    logits: (N, K) floats; labels: (N,) ints in [0, K); smoothing in [0, 1].
    Targets: (1 - smoothing) * one_hot + smoothing / K. Use a stable log-softmax.
    """
    # TODO
    raise NotImplementedError
