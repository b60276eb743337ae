def clip_grad_value(grads, clip_value):
    if not clip_value > 0:
        raise ValueError("bad clip_value")

    def one(g):
        out = g.copy()
        out[out > clip_value] = clip_value
        out[out < -clip_value] = -clip_value
        return out

    if type(grads) is dict:
        return {k: one(v) for k, v in grads.items()}
    return list(map(one, grads))
