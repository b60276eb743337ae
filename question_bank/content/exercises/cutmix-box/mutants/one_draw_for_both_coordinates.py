# misconception: the row and the column of the centre come from one draw; draw c_y and c_x separately (independently) from rng
# expect: the centre is uniform over every row and column: not uniform over 0..3
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
    u = rng.random()  # one uniform number places the centre on both axes
    cy, cx = int(u * height), int(u * width)
    top, left = cy - h // 2, cx - w // 2
    y0, y1 = min(max(top, 0), height), min(max(top + h, 0), height)
    x0, x1 = min(max(left, 0), width), min(max(left + w, 0), width)
    return y0, y1, x0, x1, 1 - (y1 - y0) * (x1 - x0) / (height * width)
