# misconception: the count of epochs without improvement never restarts; set it back to 0 after every improvement
# Counts every non-improving epoch since the start instead of since the last improvement.
# expect: counter restarts after an improvement: restarts at 0
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
        self.bad_epochs = 0

    def step(self, val_loss, weights):
        self.epoch += 1
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss = val_loss
            self.best_epoch = self.epoch
            self.best_weights = {k: np.copy(v) for k, v in weights.items()}
        else:
            self.bad_epochs += 1
        return self.bad_epochs >= self.patience
