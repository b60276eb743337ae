def l2_gradient(params, grads, weight_decay):
    """The gradients of the data loss plus (weight_decay / 2) * the sum of squared weights.

    Only the weight matrices (names starting with "W") are penalized; biases keep their gradient.
    """
    if not weight_decay >= 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
    if set(params) != set(grads):
        raise ValueError(
            f"params and grads differ in their keys: {sorted(params)}, {sorted(grads)}"
        )
    out = {}
    for name, grad in grads.items():
        if name.startswith("W"):
            out[name] = grad + weight_decay * params[name]
        else:
            out[name] = grad.copy()
    return out
