# misconception: the box runs from t = c_y - floor(h/2) to t + h, so it has exactly h rows also when h is odd; going h // 2 up and h // 2 down loses one
# expect: odd box sizes on a non-square image: floor(height * sqrt(1 - lam))
# Goes cut // 2 up and cut // 2 down from the centre: an odd side loses a row or column.
import math

import numpy as np


def cutmix_box(height, width, lam, rng=None):
    if int(height) != height or int(width) != width or height < 1 or width < 1 or not 0 <= lam <= 1:
        raise ValueError("bad arguments")
    rng = np.random.default_rng() if rng is None else rng
    r = math.sqrt(1 - lam)
    cut_h, cut_w = int(height * r), int(width * r)
    cy, cx = int(rng.integers(0, height)), int(rng.integers(0, width))
    y0, y1 = np.clip([cy - cut_h // 2, cy + cut_h // 2], 0, height)
    x0, x1 = np.clip([cx - cut_w // 2, cx + cut_w // 2], 0, width)
    return int(y0), int(y1), int(x0), int(x1), float(1 - (y1 - y0) * (x1 - x0) / (height * width))
