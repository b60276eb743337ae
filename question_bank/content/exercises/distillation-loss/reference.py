import numpy as np


def _log_softmax(z):
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def distillation_loss(student_logits, teacher_logits, labels, T=4.0, alpha=0.7):
    s = np.asarray(student_logits)
    t = np.asarray(teacher_logits)
    labels = np.asarray(labels)
    if s.ndim != 2:
        raise ValueError(f"student_logits must be 2-D (N, K), got shape {s.shape}")
    if t.shape != s.shape:
        raise ValueError(f"teacher_logits has shape {t.shape}, student_logits {s.shape}")
    n, k = s.shape
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"labels must be in [0, {k})")
    if not T > 0:
        raise ValueError(f"T must be > 0, got {T!r}")
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    s = s.astype(np.float64)
    t = t.astype(np.float64)
    log_p_teacher = _log_softmax(t / T)
    log_p_student = _log_softmax(s / T)
    p_teacher = np.exp(log_p_teacher)
    kl = (p_teacher * (log_p_teacher - log_p_student)).sum(axis=1).mean()
    hard = -_log_softmax(s)[np.arange(n), labels].mean()
    return float(alpha * T * T * kl + (1 - alpha) * hard)
