import math

import numpy as np


def cutmix_box(height, width, lam, rng=None):
    """Place a CutMix box covering about 1 - lam of a height x width image.

    Returns (y0, y1, x0, x1, lam_adj): the clipped box (rows y0:y1, columns x0:x1) and the label
    weight recomputed from its actual area.
    """
    # TODO: box size, random centre, clip, recompute the weight.
    raise NotImplementedError
