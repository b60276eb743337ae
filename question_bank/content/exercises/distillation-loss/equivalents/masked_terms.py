import numpy as np


def distillation_loss(student_logits, teacher_logits, labels, T=4.0, alpha=0.7):
    s = np.asarray(student_logits, dtype=float)
    t = np.asarray(teacher_logits, dtype=float)
    y = np.asarray(labels)
    if s.ndim != 2:
        raise ValueError("student_logits must be 2-D")
    if t.shape != s.shape:
        raise ValueError("teacher_logits must match")
    N, K = s.shape
    if y.shape != (N,):
        raise ValueError("labels shape")
    if np.any(y < 0) or np.any(y >= K):
        raise ValueError("labels out of range")
    if T <= 0:
        raise ValueError("T must be positive")
    if alpha < 0 or alpha > 1:
        raise ValueError("alpha in [0, 1]")

    def lsm(z):
        z = z - z.max(1)[:, None]
        return z - np.log(np.exp(z).sum(1))[:, None]

    log_q = lsm(t / T)
    q = np.exp(log_q)
    terms = np.where(q > 0, q * (log_q - lsm(s / T)), 0.0)
    kl = terms.sum(axis=1).mean()
    ce = -lsm(s)[np.arange(N), y].mean()
    return float(alpha * (T**2) * kl + (1.0 - alpha) * ce)
