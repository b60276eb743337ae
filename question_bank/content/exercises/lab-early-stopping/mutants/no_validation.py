# misconception: patience and min_delta are never checked: raise ValueError unless patience is a positive int and min_delta >= 0
# Accepts any patience and min_delta, so a typo like patience=0 stops training immediately.
# expect: invalid arguments raise ValueError: patience must be a positive int
import math

import numpy as np


class EarlyStopping:
    def __init__(self, patience=10, min_delta=0.0):
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
        return self.wait >= self.patience
