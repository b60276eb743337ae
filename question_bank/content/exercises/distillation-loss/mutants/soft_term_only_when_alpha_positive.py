# misconception: with alpha = 0 the function returns before T is checked; validate T and alpha first, whatever their values
# expect: bad arguments raise ValueError: whatever alpha is
import numpy as np


def _log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def distillation_loss(student_logits, teacher_logits, labels, T=4.0, alpha=0.7):
    s, t, y = np.asarray(student_logits), np.asarray(teacher_logits), np.asarray(labels)
    if s.ndim != 2 or t.shape != s.shape:
        raise ValueError("student and teacher logits must be 2-D arrays of one shape")
    n, k = s.shape
    if y.shape != (n,) or np.any(y < 0) or np.any(y >= k):
        raise ValueError("labels must have shape (N,) with values in 0..K-1")
    if not 0 <= alpha <= 1:
        raise ValueError("alpha must be in [0, 1]")
    hard = -_log_softmax(s)[np.arange(n), y].mean()
    if alpha == 0:
        return float(hard)  # no soft term, T does not matter
    if T <= 0:
        raise ValueError("T must be > 0")
    log_pt = _log_softmax(t / T)
    log_ps = _log_softmax(s / T)
    kl = (np.exp(log_pt) * (log_pt - log_ps)).sum(axis=1).mean()
    return float(alpha * T**2 * kl + (1 - alpha) * hard)
