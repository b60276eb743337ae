import copy
import math


class EarlyStopping:
    def __init__(self, patience=10, min_delta=0.0):
        if type(patience) is not int or patience < 1:
            raise ValueError("patience must be a positive int")
        if min_delta < 0:
            raise ValueError("min_delta must be >= 0")
        self.patience = patience
        self.min_delta = min_delta
        self.best_loss = math.inf
        self.best_epoch = None
        self.best_weights = None
        self.epoch = 0
        self.bad = 0

    def step(self, val_loss, weights):
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss = val_loss
            self.best_epoch = self.epoch
            self.best_weights = copy.deepcopy(weights)
            self.bad = 0
        else:
            self.bad += 1
        self.epoch += 1
        return self.bad >= self.patience
