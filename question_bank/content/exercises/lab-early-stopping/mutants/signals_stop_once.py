# misconception: the count is reset after signalling a stop, so the next epoch without improvement returns False; keep counting until an improvement
# expect: stops after patience epochs without improvement: keeps returning True
# Resets the count when it signals a stop, so the next epoch without improvement says False again.
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
            self.best_weights = {k: np.copy(v) for k, v in weights.items()}
            return False
        self.waited += 1
        if self.waited >= self.patience:
            self.waited = 0
            return True
        return False
