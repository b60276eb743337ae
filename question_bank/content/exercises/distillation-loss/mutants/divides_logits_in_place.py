# misconception: dividing by T with /= changes the caller's logits; compute logits / T into a new array
# expect: inputs are left unchanged: must not be modified
# Applies the temperature with /= on the caller's arrays.
import numpy as np


def _log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def distillation_loss(student_logits, teacher_logits, labels, T=4.0, alpha=0.7):
    if np.ndim(student_logits) != 2 or np.shape(teacher_logits) != np.shape(student_logits):
        raise ValueError("bad logits")
    n, k = student_logits.shape
    if np.shape(labels) != (n,) or np.any(labels < 0) or np.any(labels >= k):
        raise ValueError("bad labels")
    if T <= 0 or not 0 <= alpha <= 1:
        raise ValueError("bad T or alpha")
    hard = -_log_softmax(student_logits)[np.arange(n), labels].mean()
    student_logits /= T
    teacher_logits /= T
    log_pt = _log_softmax(teacher_logits)
    log_ps = _log_softmax(student_logits)
    kl = (np.exp(log_pt) * (log_pt - log_ps)).sum(axis=1).mean()
    return float(alpha * T * T * kl + (1 - alpha) * hard)
