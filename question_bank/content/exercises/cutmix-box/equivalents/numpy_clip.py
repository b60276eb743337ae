import numpy as np


def cutmix_box(height, width, lam, rng=None):
    if int(height) != height or int(width) != width or height < 1 or width < 1:
        raise ValueError("height and width must be positive integers")
    if lam < 0 or lam > 1:
        raise ValueError("lam must be in [0, 1]")
    rng = np.random.default_rng() if rng is None else rng
    size = np.array([height, width])
    cut = np.floor(size * np.sqrt(1.0 - lam)).astype(int)
    centre = np.array([rng.integers(0, height), rng.integers(0, width)])
    start = centre - cut // 2
    lo = np.clip(start, 0, size)
    hi = np.clip(start + cut, 0, size)
    area = int(np.prod(hi - lo))
    lam_adj = 1.0 - area / float(height * width)
    return int(lo[0]), int(hi[0]), int(lo[1]), int(hi[1]), lam_adj
