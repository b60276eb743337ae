import numpy as np


class EarlyStopping:
    def __init__(self, patience=10, min_delta=0.0):
        if not isinstance(patience, int) or isinstance(patience, bool) or patience < 1:
            raise ValueError("bad patience")
        if not (min_delta >= 0.0):
            raise ValueError("bad min_delta")
        self.patience, self.min_delta = patience, min_delta
        self.best_loss, self.best_epoch, self.best_weights = np.inf, None, None
        self.epoch = 0
        self.bad_epochs = 0

    def step(self, val_loss, weights):
        threshold = self.best_loss - self.min_delta
        if val_loss == val_loss and val_loss < threshold:
            self.best_loss = val_loss
            self.best_epoch = self.epoch
            self.best_weights = {k: np.copy(v) for k, v in weights.items()}
            self.bad_epochs = 0
        else:
            self.bad_epochs = self.bad_epochs + 1
        self.epoch += 1
        return bool(self.bad_epochs >= self.patience)
