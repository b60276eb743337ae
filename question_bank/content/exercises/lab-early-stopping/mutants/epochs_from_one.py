# misconception: epochs are counted from 1, but the first call to step is epoch 0
# Numbers epochs from 1, but the contract says the first call is epoch 0.
# expect: the run stops where the curve says: reports its best epoch
# expect: records the best epoch: the first call to step is epoch 0
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
        self.epoch = 0
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
