"Reference solutions to the exercises of lesson 7 (Does sparsity close the gap?). Not imported by the lesson."
import numpy as np
from scipy.stats import spearmanr
from sklearn.linear_model import RidgeClassifier


def eta2(acts, labels):
    a, y = np.asarray(acts, dtype=np.float64), np.asarray(labels)
    mean, total = a.mean(0), a.var(0)
    between = sum((y == c).mean() * (a[y == c].mean(0) - mean) ** 2 for c in np.unique(y))
    return np.where(total > 0, between / np.where(total > 0, total, 1.0), 0.0)


def gap(score, importance, alive):
    keep = np.asarray(alive, bool)
    s, i = np.asarray(score, dtype=np.float64)[keep], np.asarray(importance, dtype=np.float64)[keep]
    if np.ptp(s) == 0 or np.ptp(i) == 0: return 1.0            # a constant ranking orders nothing: unrelated
    return float(1 - spearmanr(s, i).statistic)


def probe_rank(acts, labels):
    a = np.asarray(acts, dtype=np.float64)
    sd = a.std(0)
    live = sd > 1e-6
    z = (a - a.mean(0)) / np.where(live, sd, 1.0)
    coef = np.atleast_2d(RidgeClassifier(alpha=1.0).fit(z, labels).coef_)     # two classes: one weight vector [d]
    return np.abs(coef).sum(0) * live


# Exercise 4 depends on the measured table: only the paired interval of sparse - dense decides. `summary` is
# summarise_gaps(capstone_table(capstone_models())) or lesson07_findings(), e.g. READING = reading(summary).
def reading(summary):
    low, high = summary['gap_sparse_minus_dense_ci'] if 'gap_sparse_minus_dense_ci' in summary \
        else summary['pooled']['sparse_minus_dense_ci']
    return 'sparse smaller' if high < 0 else 'sparse larger' if low > 0 else 'no clear difference'


# Exercise 4 reads the grid: for each task, only its dose-response interval decides (the correlation of density and
# gap, positive when sparser networks have smaller gaps). `findings` is lesson07_findings() or grid_findings(),
# e.g. TREND = trend(grid_findings()).
def trend(findings):
    out = {}
    for task, row in findings['dose_response']['by_task'].items():
        low, high = row['ci']
        out[task] = ('gap shrinks as weights thin out' if low > 0 else 'gap grows as weights thin out' if high < 0
                     else 'no clear trend')
    return out


# Exercise 5 is the student's own conclusion; an example built from the measured numbers,
# e.g. CONCLUSION = conclusion(lesson07_findings()).
def conclusion(f):
    lo, hi = f['gap_sparse_minus_dense_ci']
    pg = f['probe_gap']
    verdict = {'sparse smaller': 'weight sparsity narrows the detection gap',
               'sparse larger': 'weight sparsity widens the detection gap',
               'no clear difference': 'these models do not show that weight sparsity closes the detection gap'}[reading(f)]
    near = all(abs(f[k] - 1) < 0.2 for k in ('gap_dense', 'gap_sparse'))
    level = ("Both stay near 1, where the node ranking analysis gives is unrelated to the one ablation gives"
             if near else "A gap of 0 would mean the two rankings agree, 1 that they are unrelated")
    last = {'sparse smaller': "Here the sparser wiring also makes the activations a better guide to which nodes the model uses.",
            'sparse larger': "Here the sparser wiring makes the activations a worse guide to which nodes the model uses.",
            'no clear difference': "A circuit with fewer edges is easier to read; on this evidence the sparser wiring "
                                   "does not make the activations a better guide to which nodes the model uses."}[reading(f)]
    edges = ', '.join(f"{k}: {v['dense']['edges']:.0f} -> {v['sparse']['edges']:.0f}" for k, v in f['circuits'].items())
    return (f"Pooled over the easy/hard and cipher tasks and {len(f['seeds'])} seeds, the detection gap (1 - Spearman "
            f"between the eta-squared ranking of live nodes and their ablation importance) is {f['gap_dense']:.2f} "
            f"[{f['gap_dense_ci'][0]:.2f}, {f['gap_dense_ci'][1]:.2f}] for the dense models and {f['gap_sparse']:.2f} "
            f"[{f['gap_sparse_ci'][0]:.2f}, {f['gap_sparse_ci'][1]:.2f}] for the sparse ones. The paired difference, "
            f"sparse - dense, is {f['gap_sparse_minus_dense']:+.3f} with a 95% interval of [{lo:+.3f}, {hi:+.3f}], so "
            f"{verdict}. {level}; ranking by probe weights instead gives {pg['dense']:.2f} (dense) and "
            f"{pg['sparse']:.2f} (sparse), a paired difference of {pg['sparse_minus_dense']:+.3f} "
            f"[{pg['sparse_minus_dense_ci'][0]:+.3f}, {pg['sparse_minus_dense_ci'][1]:+.3f}]. What sparsity does change "
            f"is the wiring: the median circuit edges, dense -> sparse, are {edges}. {last}")
