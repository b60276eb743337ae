# misconception: the end coordinates are exclusive: clip y1 to height and x1 to width, not to height - 1 and width - 1
# expect: the box position is uniform over the image: the box may reach the last row and column
# Clips the end coordinates to height - 1 and width - 1, treating them as inclusive indices.
import math

import numpy as np


def cutmix_box(height, width, lam, rng=None):
    if int(height) != height or int(width) != width or height < 1 or width < 1 or not 0 <= lam <= 1:
        raise ValueError("bad arguments")
    rng = np.random.default_rng() if rng is None else rng
    r = math.sqrt(1 - lam)
    cut_h, cut_w = int(height * r), int(width * r)
    cy, cx = int(rng.integers(0, height)), int(rng.integers(0, width))
    y0, y1 = np.clip([cy - cut_h // 2, cy - cut_h // 2 + cut_h], 0, height - 1)
    x0, x1 = np.clip([cx - cut_w // 2, cx - cut_w // 2 + cut_w], 0, width - 1)
    return int(y0), int(y1), int(x0), int(x1), float(1 - (y1 - y0) * (x1 - x0) / (height * width))
