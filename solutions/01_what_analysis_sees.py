"Reference solutions to the exercises of lesson 1 (What analysis sees). Not imported by the lesson."
import numpy as np
from scipy.spatial.distance import pdist
from scipy.stats import spearmanr
from sklearn.decomposition import PCA


def my_variance_explained(acts, labels, train_idx, test_idx):
    acts = np.asarray(acts, dtype=float)
    y = np.asarray(labels, dtype=float)
    z = acts - acts[train_idx].mean(0)                      # centre with the training mean
    yc = y - y[train_idx].mean()
    slope = yc[train_idx] @ z[train_idx] / (yc[train_idx] @ yc[train_idx])   # one slope per unit
    pred = np.outer(yc[test_idx], slope)
    resid = z[test_idx] - pred
    total = z[test_idx] - z[test_idx].mean(0)
    return float(1 - (resid ** 2).sum() / (total ** 2).sum())


def my_rsa(acts, feature):
    model_rdm = pdist(np.asarray(acts, dtype=float))
    feature_rdm = pdist(np.asarray(feature, dtype=float)[:, None], 'hamming')
    return float(spearmanr(model_rdm, feature_rdm)[0])


def my_keep_top_pcs(acts, k):
    acts = np.asarray(acts, dtype=float)
    p = PCA().fit(acts)
    V = p.components_[:k]
    return p.mean_ + (acts - p.mean_) @ V.T @ V


KNOBS = dict(init_scale=2.0)
