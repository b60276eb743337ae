import math

import numpy as np


class EarlyStopping:
    """Stop training once the validation loss has not improved for `patience` epochs."""

    def __init__(self, patience=10, min_delta=0.0):
        if isinstance(patience, bool) or not isinstance(patience, int | np.integer) or patience < 1:
            raise ValueError(f"patience must be a positive int, got {patience!r}")
        if not min_delta >= 0:
            raise ValueError(f"min_delta must be >= 0, got {min_delta!r}")
        self.patience = int(patience)
        self.min_delta = min_delta
        self.best_loss = math.inf
        self.best_epoch = None
        self.best_weights = None
        self._epoch = -1
        self._waited = 0

    def step(self, val_loss, weights):
        self._epoch += 1
        # NaN compares False, so it can never count as an improvement.
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss = val_loss
            self.best_epoch = self._epoch
            self.best_weights = {name: np.array(w, copy=True) for name, w in weights.items()}
            self._waited = 0
        else:
            self._waited += 1
        return self._waited >= self.patience
