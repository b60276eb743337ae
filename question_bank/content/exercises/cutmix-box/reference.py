import math

import numpy as np


def cutmix_box(height, width, lam, rng=None):
    for name, size in (("height", height), ("width", width)):
        if isinstance(size, bool) or int(size) != size or size < 1:
            raise ValueError(f"{name} must be a positive integer, got {size!r}")
    if not 0 <= lam <= 1:
        raise ValueError(f"lam must be in [0, 1], got {lam!r}")
    height, width = int(height), int(width)
    if rng is None:
        rng = np.random.default_rng()
    ratio = math.sqrt(1.0 - lam)
    cut_h = math.floor(height * ratio)
    cut_w = math.floor(width * ratio)
    cy = int(rng.integers(0, height))
    cx = int(rng.integers(0, width))
    top, left = cy - cut_h // 2, cx - cut_w // 2
    y0, y1 = min(max(top, 0), height), min(max(top + cut_h, 0), height)
    x0, x1 = min(max(left, 0), width), min(max(left + cut_w, 0), width)
    lam_adj = 1.0 - (y1 - y0) * (x1 - x0) / (height * width)
    return y0, y1, x0, x1, lam_adj
