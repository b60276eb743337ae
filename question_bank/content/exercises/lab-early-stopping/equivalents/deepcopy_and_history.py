import copy
import math


class EarlyStopping:
    def __init__(self, patience=10, min_delta=0.0):
        if type(patience) is not int or patience <= 0:
            raise ValueError("patience must be a positive integer")
        if math.isnan(min_delta) or min_delta < 0:
            raise ValueError("min_delta must be non-negative")
        self.patience = patience
        self.min_delta = min_delta
        self.best_loss = float("inf")
        self.best_epoch = None
        self.best_weights = None
        self.history = []

    def step(self, val_loss, weights):
        self.history.append(val_loss)
        epoch = len(self.history) - 1
        improved = not math.isnan(val_loss) and val_loss < self.best_loss - self.min_delta
        if improved:
            self.best_loss = val_loss
            self.best_epoch = epoch
            self.best_weights = copy.deepcopy(weights)
        last_best = -1 if self.best_epoch is None else self.best_epoch
        return epoch - last_best >= self.patience
