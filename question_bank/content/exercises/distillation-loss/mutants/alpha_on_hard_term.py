# misconception: alpha weights the soft (distillation) term and 1 - alpha the hard cross-entropy; this looks like the other way round
# expect: alpha 1 is the soft term alone: alpha weights the soft (distillation) term
# Puts alpha on the hard term and 1 - alpha on the soft one (invisible when alpha = 0.5).
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
    log_pt = _log_softmax(teacher_logits / T)
    log_ps = _log_softmax(student_logits / T)
    kl = (np.exp(log_pt) * (log_pt - log_ps)).sum(axis=1).mean()
    hard = -_log_softmax(student_logits)[np.arange(n), labels].mean()
    return float((1 - alpha) * T * T * kl + alpha * hard)
