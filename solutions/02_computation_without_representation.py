"Reference solutions to the exercises of lesson 2 (Computation without representation). Not imported by the lesson."
import numpy as np


def decrypt_sum(c_sum, ka, kb, p):
    return (np.asarray(c_sum) - np.asarray(ka) - np.asarray(kb)) % p


def my_random_rotation(d, seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return q * np.sign(np.diag(r))


def mean_ablate_hook(units, mean):
    def hook(act, name):
        out = act.clone()
        out[:, units] = mean[units].to(act.dtype)
        return out
    return hook
