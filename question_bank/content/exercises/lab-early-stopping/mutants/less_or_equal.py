# misconception: a loss equal to the best counts as an improvement here; an epoch improves only when val_loss < best_loss - min_delta (strictly less)
# Uses <= where the contract says <, so a loss equal to the best resets the patience counter.
# expect: equal loss is not an improvement: strictly less
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
        if val_loss <= self.best_loss - self.min_delta:
            self.best_loss = val_loss
            self.best_epoch = self.epoch
            self.best_weights = {k: v.copy() for k, v in weights.items()}
            self.wait = 0
        else:
            self.wait += 1
        return self.wait >= self.patience
