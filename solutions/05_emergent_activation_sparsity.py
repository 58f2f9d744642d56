"Reference solutions to the exercises of lesson 5 (Emergent activation sparsity). Not imported by the lesson."
import math
import numpy as np
import torch


def my_topk_energy(x, frac):
    x = torch.as_tensor(x, dtype=torch.float64)
    k = max(1, math.ceil(frac * x.shape[-1] - 1e-9))
    e = x ** 2
    return e.topk(k, dim=-1).values.sum(-1) / e.sum(-1)


def my_text_sparsity(states, mask):
    vals = my_topk_energy(states, 0.05)                        # [n, T]
    m = mask.to(vals.dtype)
    return (vals * m).sum(1) / m.sum(1)


def my_gap_ci(familiar, unfamiliar, n_resamples=2000, seed=0):
    a, b = np.asarray(familiar, dtype=float), np.asarray(unfamiliar, dtype=float)
    rng = np.random.default_rng(seed)
    diffs = [rng.choice(b, len(b)).mean() - rng.choice(a, len(a)).mean() for _ in range(n_resamples)]
    low, high = np.percentile(diffs, [2.5, 97.5])
    return b.mean() - a.mean(), low, high


def my_verdict(gap, low, high):
    if low > 0: return 'sparser'
    if high < 0: return 'denser'
    return 'no clear difference'
