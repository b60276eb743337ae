# misconception: only the first best is copied; a later best keeps the caller's arrays, which the training loop changes in place; copy the arrays at every improvement
# expect: the kept weights are the best epoch's: must be independent copies
# expect: best_weights holds copies: every new best is copied too
# Copies the weights at the first improvement but keeps the caller's dict for later ones.
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
            if self.best_weights is None:
                self.best_weights = {k: np.copy(v) for k, v in weights.items()}
            else:
                self.best_weights = weights
        else:
            self.waited += 1
        return self.waited >= self.patience
