# misconception: the log-softmax subtracts the maximum of the whole batch instead of each row's own maximum (keepdims along axis 1); a row far below the batch maximum then underflows to log(0)
# expect: rows of very different scales stay finite: subtract each row's own maximum
import numpy as np


def _log_softmax(z):
    z = z - z.max()  # the largest logit in the batch
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def distillation_loss(student_logits, teacher_logits, labels, T=4.0, alpha=0.7):
    s, t, y = np.asarray(student_logits), np.asarray(teacher_logits), np.asarray(labels)
    if s.ndim != 2:
        raise ValueError("student_logits must be 2-D")
    if t.shape != s.shape:
        raise ValueError("teacher_logits must have the shape of student_logits")
    n, k = s.shape
    if y.shape != (n,) or np.any(y < 0) or np.any(y >= k):
        raise ValueError("labels must have shape (N,) with values in 0..K-1")
    if T <= 0:
        raise ValueError("T must be > 0")
    if not 0 <= alpha <= 1:
        raise ValueError("alpha must be in [0, 1]")
    log_pt = _log_softmax(t / T)
    log_ps = _log_softmax(s / T)
    kl = (np.exp(log_pt) * (log_pt - log_ps)).sum(axis=1).mean()
    hard = -_log_softmax(s)[np.arange(n), y].mean()
    return float(alpha * T**2 * kl + (1 - alpha) * hard)
