# misconception: taking the log of probabilities that underflowed to 0 gives NaN; compute log-probabilities directly with a stable log-softmax
# expect: large logits stay finite: never take the log of a probability that may be 0
# Builds the probabilities first and takes log(p_teacher / p_student): 0 * log(0) turns into nan.
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
    def softmax(z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    pt = softmax(teacher_logits / T)
    ps = softmax(student_logits / T)
    kl = (pt * np.log(pt / ps)).sum(axis=1).mean()
    hard = -np.log(softmax(student_logits)[np.arange(n), labels]).mean()
    return float(alpha * T * T * kl + (1 - alpha) * hard)
