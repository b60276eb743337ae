# misconception: the centre is drawn uniformly over the whole image and the box is clipped at the border; this looks like placing the box so it always fits inside
# expect: the box position is uniform over the image: centre uniformly over the whole image
# Draws the top-left corner so the box always fits: no clipping, but border pixels are rarely cut.
import math

import numpy as np


def cutmix_box(height, width, lam, rng=None):
    if int(height) != height or int(width) != width or height < 1 or width < 1 or not 0 <= lam <= 1:
        raise ValueError("bad arguments")
    rng = np.random.default_rng() if rng is None else rng
    r = math.sqrt(1 - lam)
    cut_h, cut_w = int(height * r), int(width * r)
    y0 = int(rng.integers(0, height - cut_h + 1))
    x0 = int(rng.integers(0, width - cut_w + 1))
    y1, x1 = y0 + cut_h, x0 + cut_w
    return y0, y1, x0, x1, 1 - cut_h * cut_w / (height * width)
