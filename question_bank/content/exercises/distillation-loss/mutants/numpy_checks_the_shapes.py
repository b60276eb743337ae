# misconception: the ValueError for mismatched shapes comes from numpy's broadcasting, not from your code; check the shapes of the logits and labels yourself and raise ValueError with a message
# expect: bad arguments raise ValueError: not by a check of your own
import numpy as np


def _log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def distillation_loss(student_logits, teacher_logits, labels, T=4.0, alpha=0.7):
    if T <= 0:
        raise ValueError("T must be > 0")
    if not 0 <= alpha <= 1:
        raise ValueError("alpha must be in [0, 1]")
    n, k = student_logits.shape
    if np.any(labels < 0) or np.any(labels >= k):
        raise ValueError("labels must be in 0..K-1")
    log_pt = _log_softmax(teacher_logits / T)
    log_ps = _log_softmax(student_logits / T)
    kl = (np.exp(log_pt) * (log_pt - log_ps)).sum(axis=1).mean()  # numpy checks the shapes here
    hard = -_log_softmax(student_logits)[np.arange(n), labels].mean()
    return float(alpha * T**2 * kl + (1 - alpha) * hard)
