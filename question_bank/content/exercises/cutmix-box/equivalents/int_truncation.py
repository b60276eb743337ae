import math

import numpy as np


def cutmix_box(height, width, lam, rng=None):
    if isinstance(height, bool) or isinstance(width, bool):
        raise ValueError("sizes must be integers")
    if height != int(height) or width != int(width) or height < 1 or width < 1:
        raise ValueError("height and width must be positive integers")
    if lam < 0 or lam > 1:
        raise ValueError("lam must be in [0, 1]")

    if rng is None:
        rng = np.random.default_rng()
    cut = math.sqrt(1 - lam)
    cut_h = int(height * cut)
    cut_w = int(width * cut)
    cy = int(rng.integers(height))
    cx = int(rng.integers(width))
    top = cy - cut_h // 2
    left = cx - cut_w // 2
    y0, y1 = max(top, 0), min(top + cut_h, height)
    x0, x1 = max(left, 0), min(left + cut_w, width)
    y1, x1 = max(y1, y0), max(x1, x0)
    return y0, y1, x0, x1, 1 - (y1 - y0) * (x1 - x0) / (height * width)
