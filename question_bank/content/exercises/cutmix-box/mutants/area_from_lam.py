# misconception: the box covers 1 - lam of the image, so its sides are scaled by sqrt(1 - lam); this looks like scaling them by sqrt(lam)
# expect: the box has the planned size unless clipped: floor(height * sqrt(1 - lam))
# Scales the sides by sqrt(lam), so the box covers lam of the image instead of 1 - lam.
import math

import numpy as np


def cutmix_box(height, width, lam, rng=None):
    if int(height) != height or int(width) != width or height < 1 or width < 1 or not 0 <= lam <= 1:
        raise ValueError("bad arguments")
    rng = np.random.default_rng() if rng is None else rng
    cut_h, cut_w = int(height * math.sqrt(lam)), int(width * math.sqrt(lam))
    cy, cx = int(rng.integers(0, height)), int(rng.integers(0, width))
    y0, y1 = np.clip([cy - cut_h // 2, cy - cut_h // 2 + cut_h], 0, height)
    x0, x1 = np.clip([cx - cut_w // 2, cx - cut_w // 2 + cut_w], 0, width)
    return int(y0), int(y1), int(x0), int(x1), float(1 - (y1 - y0) * (x1 - x0) / (height * width))
