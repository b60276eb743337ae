# misconception: best_weights keeps the caller's dict and arrays, which the training loop changes in place; store independent copies
# Keeps the caller's dict itself, so later in-place updates change the "best" weights too.
# expect: the kept weights are the best epoch's: must be independent copies
# expect: best_weights holds copies: store independent copies
import math


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
            self.best_weights = weights
            self.wait = 0
        else:
            self.wait += 1
        return self.wait >= self.patience
