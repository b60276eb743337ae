# misconception: this returns the data gradients unchanged, so the network trains exactly like the unregularized baseline
# expect: weights get weight_decay * W added: elements differ
# expect: train-validation gap: memorizes
# expect: validation loss at the best epoch: still overfits
import numpy as np


def l2_gradient(params, grads, weight_decay):
    if not weight_decay >= 0:
        raise ValueError("weight_decay must be >= 0")
    return {name: grad.copy() for name, grad in grads.items()}
