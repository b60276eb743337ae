import numpy as np


def distillation_loss(student_logits, teacher_logits, labels, T=4.0, alpha=0.7):
    if np.ndim(student_logits) != 2 or np.shape(teacher_logits) != np.shape(student_logits):
        raise ValueError("logits must be 2-D arrays of the same shape")
    n, k = np.shape(student_logits)
    if np.shape(labels) != (n,) or np.any(labels < 0) or np.any(labels >= k):
        raise ValueError("bad labels")
    if T <= 0 or alpha < 0 or alpha > 1:
        raise ValueError("bad T or alpha")
    zs = np.asarray(student_logits, dtype=np.float64) / T
    zt = np.asarray(teacher_logits, dtype=np.float64) / T
    log_ps = zs - np.logaddexp.reduce(zs, axis=1, keepdims=True)
    log_pt = zt - np.logaddexp.reduce(zt, axis=1, keepdims=True)
    pt = np.exp(log_pt)
    # KL = sum pt log pt - sum pt log ps (the cross-entropy minus the entropy)
    kl_per_row = np.einsum("nk,nk->n", pt, log_pt) - np.einsum("nk,nk->n", pt, log_ps)
    z1 = np.asarray(student_logits, dtype=np.float64)
    lse1 = np.logaddexp.reduce(z1, axis=1)
    hard = np.mean(lse1 - z1[np.arange(n), labels])
    return float(alpha * (T**2) * np.mean(kl_per_row) + (1 - alpha) * hard)
