# misconception: the ValueErrors for lam > 1 and for a height or width below 1 come from math.sqrt and rng.integers, not from your code; check every argument yourself and raise ValueError with a message
# expect: bad arguments raise ValueError: not by a check of your own
import math

import numpy as np


def cutmix_box(height, width, lam, rng=None):
    if lam < 0:
        raise ValueError("lam must be >= 0")
    if height != int(height) or width != int(width):
        raise ValueError("height and width must be integers")
    rng = np.random.default_rng() if rng is None else rng
    h = math.floor(height * math.sqrt(1 - lam))  # lam > 1: math domain error
    w = math.floor(width * math.sqrt(1 - lam))
    cy = int(rng.integers(0, height))  # height < 1: numpy refuses
    cx = int(rng.integers(0, width))
    top, left = cy - h // 2, cx - w // 2
    y0, y1 = min(max(top, 0), height), min(max(top + h, 0), height)
    x0, x1 = min(max(left, 0), width), min(max(left + w, 0), width)
    return y0, y1, x0, x1, 1 - (y1 - y0) * (x1 - x0) / (height * width)
