# misconception: the centre is drawn from 0..H-2 and 0..W-2, so the last row and column are never a centre; rng.integers(0, H) already excludes H, so it draws 0..H-1
# expect: the centre is uniform over every row and column: never drawn
import math

import numpy as np


def cutmix_box(height, width, lam, rng=None):
    if isinstance(height, bool) or int(height) != height or height < 1:
        raise ValueError("height must be a positive integer")
    if isinstance(width, bool) or int(width) != width or width < 1:
        raise ValueError("width must be a positive integer")
    if not 0 <= lam <= 1:
        raise ValueError("lam must be in [0, 1]")
    rng = np.random.default_rng() if rng is None else rng
    h = math.floor(height * math.sqrt(1 - lam))
    w = math.floor(width * math.sqrt(1 - lam))
    # "-1 because indices go up to H - 1" (but the upper bound of integers is exclusive)
    cy = int(rng.integers(0, max(height - 1, 1)))
    cx = int(rng.integers(0, max(width - 1, 1)))
    top, left = cy - h // 2, cx - w // 2
    y0, y1 = int(np.clip(top, 0, height)), int(np.clip(top + h, 0, height))
    x0, x1 = int(np.clip(left, 0, width)), int(np.clip(left + w, 0, width))
    return y0, y1, x0, x1, 1 - (y1 - y0) * (x1 - x0) / (height * width)
