# misconception: a NaN loss is skipped here; every call to step is an epoch, and a NaN (or inf) loss is an epoch without improvement that counts towards patience, so a diverged run stops
# expect: NaN and inf count as epochs without improvement: a NaN epoch counts as an epoch without improvement, it is not skipped
# expect: a diverged run keeps signalling stop: a run whose loss has become NaN must stop
# A NaN loss returns False without counting an epoch (red-team F4): best_epoch is off by one after
# it, and a run whose loss has become NaN never stops.
import math
import numpy as np


class EarlyStopping:
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
        if math.isnan(val_loss):
            return False                      # skipped: no epoch, no patience
        self._epoch += 1
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss = val_loss
            self.best_epoch = self._epoch
            self.best_weights = {name: np.array(w, copy=True) for name, w in weights.items()}
            self._waited = 0
        else:
            self._waited += 1
        return self._waited >= self.patience
