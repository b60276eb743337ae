# misconception: np.array(v, dtype=float) copies the weights but turns float32 arrays into float64; copy with v.copy() (or np.array(v, copy=True)) to keep each array's dtype
# expect: best_weights holds copies: float32 stays float32
# Copies with np.array(v, dtype=float): the copies are independent but float32 weights become float64.
import math

import numpy as np


class EarlyStopping:
    def __init__(self, patience=10, min_delta=0.0):
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError("patience must be a positive int")
        if not min_delta >= 0:
            raise ValueError("min_delta must be >= 0")
        self.patience, self.min_delta = patience, min_delta
        self.best_loss, self.best_epoch, self.best_weights = math.inf, None, None
        self.epoch, self.waited = -1, 0

    def step(self, val_loss, weights):
        self.epoch += 1
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch, self.waited = val_loss, self.epoch, 0
            self.best_weights = {k: np.array(v, dtype=float) for k, v in weights.items()}
        else:
            self.waited += 1
        return self.waited >= self.patience
