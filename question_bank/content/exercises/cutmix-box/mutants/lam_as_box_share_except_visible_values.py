# misconception: for some values of lam the box covers a share lam of the image; lam is the share that is KEPT, whatever its value: the box has floor(H * sqrt(1 - lam)) rows and floor(W * sqrt(1 - lam)) columns
# expect: other values of lam: 1 - lam the share the box covers
# Confuses lam and 1 - lam except at the values the visible tests use (red-team F3's pattern for a
# mixing weight), so only a hidden test with another asymmetric lam can tell.
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
    if lam in (0.0, 0.3, 0.4375, 0.5, 0.75, 0.77288818359375, 0.80859375, 1.0):  # the visible tests' lams
        ratio = math.sqrt(1.0 - lam)
    else:
        ratio = math.sqrt(lam)  # lam taken as the share the box covers everywhere else
    cut_h = math.floor(height * ratio)
    cut_w = math.floor(width * ratio)
    cy = int(rng.integers(0, height))
    cx = int(rng.integers(0, width))
    top, left = cy - cut_h // 2, cx - cut_w // 2
    y0, y1 = min(max(top, 0), height), min(max(top + cut_h, 0), height)
    x0, x1 = min(max(left, 0), width), min(max(left + cut_w, 0), width)
    lam_adj = 1.0 - (y1 - y0) * (x1 - x0) / (height * width)
    return y0, y1, x0, x1, lam_adj
