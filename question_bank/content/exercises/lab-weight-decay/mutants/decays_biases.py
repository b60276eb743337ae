# misconception: the penalty is on the weight matrices only; this also decays the biases, which shifts every unit's threshold toward zero for nothing
# expect: biases keep their gradient: biases
# expect: the curves are the reference's: leaves the reference's
# expect: train-validation gap: too strong
import numpy as np


def l2_gradient(params, grads, weight_decay):
    if not weight_decay >= 0:
        raise ValueError("weight_decay must be >= 0")
    return {name: grad + weight_decay * params[name] for name, grad in grads.items()}
