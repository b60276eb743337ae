# misconception: step returns True one epoch too late: stop as soon as the count reaches patience (count >= patience)
# Stops only when the count exceeds patience, one epoch too late.
# expect: the run stops where the curve says: training stops after epoch
# expect: stops after patience epochs without improvement: reaches patience
import math

import numpy as np


class EarlyStopping:
    def __init__(self, patience=10, min_delta=0.0):
        if not isinstance(patience, int) or patience < 1:
            raise ValueError("patience must be a positive int")
        if min_delta < 0:
            raise ValueError("min_delta must be >= 0")
        self.patience = patience
        self.min_delta = min_delta
        self.best_loss = math.inf
        self.best_epoch = None
        self.best_weights = None
        self.epoch = -1
        self.wait = 0

    def step(self, val_loss, weights):
        self.epoch += 1
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss = val_loss
            self.best_epoch = self.epoch
            self.best_weights = {k: np.copy(v) for k, v in weights.items()}
            self.wait = 0
        else:
            self.wait += 1
        return self.wait > self.patience
