"""Bad inputs to sparse_tutor.analysis.representation and .probes get a ValueError/TypeError that names the argument,
in the shape `name: expected WHAT, got WHAT-CAME`; valid ones behave."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.linear_model import RidgeClassifier
from sklearn.preprocessing import StandardScaler

from sparse_tutor.analysis import representation as A
from sparse_tutor.analysis import probes as P

rng = np.random.default_rng(0)
N, D = 120, 6
ACTS = rng.normal(size=(N, D))
LAB = rng.integers(0, 2, N)

FUNCS = {
    'variance_explained': lambda a, y, **kw: A.variance_explained(a, y, **kw),
    'probe_accuracy': lambda a, y, **kw: P.probe_accuracy(a, y, **kw),
    'rsa': lambda a, y, **kw: A.rsa(a, y, **kw),
    'pcs_until_decodable': lambda a, y, **kw: P.pcs_until_decodable(a, y, ks=[1, 2], **kw),
}
LABEL_NAME = {'rsa': 'feature'}

@pytest.mark.parametrize('fn', FUNCS)
def test_length_mismatch_names_labels(fn):
    with pytest.raises(ValueError, match=f"^{LABEL_NAME.get(fn, 'labels')}: expected {N} entries, one per row of the "
                                         f"activations, got 50"):
        FUNCS[fn](ACTS, LAB[:50])

@pytest.mark.parametrize('fn', FUNCS)
def test_constant_feature(fn):
    with pytest.raises(ValueError, match=r'expected values that vary, got a constant \(every entry is 1\)'):
        FUNCS[fn](ACTS, np.ones(N, dtype=int))

@pytest.mark.parametrize('fn', FUNCS)
@pytest.mark.parametrize('where', ['acts', 'labels'])
def test_nans(fn, where):
    a, y = ACTS.copy(), LAB.astype(float)
    if where == 'acts': a[3, 2] = np.nan
    else: y[5] = np.nan
    name = 'acts' if where == 'acts' else LABEL_NAME.get(fn, 'labels')
    with pytest.raises(ValueError, match=f'^{name}: expected finite values, got'): FUNCS[fn](a, y)

@pytest.mark.parametrize('fn', FUNCS)
@pytest.mark.parametrize('shape', [(N,), (N, D, 2)])
def test_wrong_ndim(fn, shape):
    with pytest.raises(ValueError, match=r'^acts: expected a 2-D array \(n_inputs, n_units\), got shape'):
        FUNCS[fn](np.zeros(shape), LAB)

@pytest.mark.parametrize('fn', FUNCS)
@pytest.mark.parametrize('bad', ['acts', {'a': 1}, None, [['x', 'y']]])
def test_not_an_array(fn, bad):
    with pytest.raises(TypeError, match=r'^acts: expected an array of numbers'): FUNCS[fn](bad, LAB)

@pytest.mark.parametrize('k', [0, D + 1, -3])
@pytest.mark.parametrize('fn', ['variance_explained', 'probe_accuracy'])
def test_k_out_of_range(fn, k):
    with pytest.raises(ValueError, match=rf'^k: expected an int in \[1, {D}\], got {k}'): FUNCS[fn](ACTS, LAB, k=k)

@pytest.mark.parametrize('k', [1.5, '2', True])
def test_k_wrong_type(k):
    with pytest.raises(TypeError, match=r'^k: expected an int in \[1, 6\], got'): A.variance_explained(ACTS, LAB, k=k)

def test_other_arguments():
    with pytest.raises(ValueError, match=r'^test_frac: expected a finite number in \(0, 1\), got 1.5'):
        A.variance_explained(ACTS, LAB, test_frac=1.5)
    with pytest.raises(ValueError, match=r"^encoding: expected one of \['value', 'onehot'\], got 'bits'"):
        A.variance_explained(ACTS, LAB, encoding='bits')
    with pytest.raises(ValueError, match=r"^kind: expected one of \['linear', 'mlp', 'ridge'\], got 'forest'"):
        P.probe_accuracy(ACTS, LAB, kind='forest')
    with pytest.raises(ValueError, match='^labels: expected class labels'): P.probe_accuracy(ACTS, LAB + 0.25)
    with pytest.raises(ValueError, match='^max_items: expected an int >= 3, got 2'): A.rsa(ACTS, LAB, max_items=2)
    with pytest.raises(TypeError, match="^max_items: expected an int >= 3, got str"): A.rsa(ACTS, LAB, max_items='300')
    with pytest.raises(ValueError, match='metric'): A.rsa(ACTS, LAB, metric='no-such-metric')
    with pytest.raises(ValueError, match=r'^threshold: expected a finite number in \(0, 1\], got 2'):
        P.pcs_until_decodable(ACTS, LAB, threshold=2)
    with pytest.raises(ValueError, match=r'^ks\[0\]: expected an int in \[1, 6\], got 0'): P.pcs_until_decodable(ACTS, LAB, ks=[0])
    with pytest.raises(ValueError, match='^acts: expected at least 4 rows'): A.variance_explained(ACTS[:3], LAB[:3])
    with pytest.raises(TypeError, match='^features: expected a dict name -> labels, got list'): A.variance_explained_all(ACTS, [LAB])
    with pytest.raises(TypeError, match='^features: expected a dict name -> labels, got list'): P.probe_all(ACTS, [LAB])
    with pytest.raises(ValueError, match='^X: expected a 1-D or 2-D array'): A.rdm(np.zeros((3, 2, 2)))

def test_ablation_bad_input():
    with pytest.raises(ValueError, match=r'^directions: expected shape \(m, 6\)'): A.project_out(ACTS, np.ones(5))
    with pytest.raises(ValueError, match='^directions: expected at least one nonzero direction'): A.project_out(ACTS, np.zeros(D))
    with pytest.raises(ValueError, match=r"^about: expected one of \['mean', 'zero'\], got 'median'"):
        A.project_out(ACTS, np.ones(D), about='median')
    with pytest.raises(ValueError, match=r'^about: .*shape \(6,\), got shape \(3,\)'): A.project_out(ACTS, np.ones(D), about=np.ones(3))
    with pytest.raises(ValueError, match=r'^pcs\[0\]: expected an int in \[0, 5\], got 6'): A.ablate_pcs(ACTS, [6])
    with pytest.raises(ValueError, match="^pca_fit: expected a PCA fitted on acts' 4 units, got one fitted on 6"):
        A.ablate_pcs(ACTS[:, :4], [0], A.pca(ACTS))
    with pytest.raises(ValueError, match=r'^k: expected an int in \[1, 6\], got 7'): A.keep_top_pcs(ACTS, 7)

def test_ridge_probes_bad_input():
    tr, te = A.split_indices(N, 0.5, 0)
    with pytest.raises(TypeError, match='^labels: expected a dict name -> class labels, got ndarray'): P.ridge_probes(ACTS, LAB, tr, te)
    with pytest.raises(ValueError, match=r"^labels\['x'\]: expected 120 entries, got 10"): P.ridge_probes(ACTS, {'x': LAB[:10]}, tr, te)
    with pytest.raises(ValueError, match=r"^labels\['x'\]: expected at least 2 classes on the training split, got 1"):
        P.ridge_probes(ACTS, {'x': np.zeros(N)}, tr, te)
    with pytest.raises(ValueError, match=r'^alpha: expected a finite number > 0, got 0'): P.ridge_probes(ACTS, {'x': LAB}, tr, te, alpha=0)

def test_rsa_of_a_constant_layer_is_an_error_not_zero():
    dead = np.zeros((N, D)); dead[:, 1] = 0.7
    with pytest.raises(ValueError, match='^acts: expected activations that differ between inputs, got a constant RDM'):
        A.rsa(dead, LAB)

def test_torch_and_lists_accepted():
    t = torch.tensor(ACTS, dtype=torch.float32, requires_grad=True)
    assert np.isclose(A.variance_explained(t, torch.tensor(LAB)), A.variance_explained(ACTS, LAB), atol=1e-5)
    assert P.probe_accuracy(ACTS.tolist(), LAB.tolist()) == P.probe_accuracy(ACTS, LAB)
    assert P.probe_accuracy(ACTS, LAB.astype(bool)) == P.probe_accuracy(ACTS, LAB)

def test_deterministic_and_seeded():
    assert P.probe_accuracy(ACTS, LAB, kind='mlp', seed=3) == P.probe_accuracy(ACTS, LAB, kind='mlp', seed=3)
    assert A.rsa(ACTS, LAB, max_items=50, seed=1) == A.rsa(ACTS, LAB, max_items=50, seed=1)
    assert A.rsa(ACTS, LAB, max_items=50, seed=1) != A.rsa(ACTS, LAB, max_items=50, seed=2)

def test_variance_explained_matches_definition():
    "Share of the held-out total variance explained by a least-squares fit on the training split."
    from sklearn.linear_model import LinearRegression
    y = rng.integers(0, 3, N)
    a = ACTS + np.outer(y, rng.normal(size=D))
    tr, te = A.split_indices(N, 0.5, 0)
    pred = LinearRegression().fit(y[tr, None], a[tr]).predict(y[te, None])
    want = 1 - ((a[te] - pred) ** 2).sum() / ((a[te] - a[te].mean(0)) ** 2).sum()
    assert np.isclose(A.variance_explained(a, y), want)

def _sklearn_ridge_accuracy(a, y, tr, te):
    scaler = StandardScaler().fit(a[tr])
    clf = RidgeClassifier(alpha=1.0).fit(scaler.transform(a[tr]), y[tr])
    return float((clf.predict(scaler.transform(a[te])) == y[te]).mean())

finite = st.floats(-100, 100, allow_nan=False, allow_infinity=False)

@settings(max_examples=40, deadline=None)
@given(a=arrays(np.float64, (30, 4), elements=finite), flip=st.integers(1, 28))
def test_properties(a, flip):
    y = np.zeros(30, dtype=int); y[:flip] = 1
    a = a + np.arange(30)[:, None] * 1e-3          # never exactly constant
    assert A.variance_explained(a, y) <= 1 + 1e-9
    tr, te = A.split_indices(30, 0.5, 0)
    if len(np.unique(y[tr])) < 2:                  # one class only on the training split: a clear error, not a number
        with pytest.raises(ValueError, match='^labels: expected at least 2 classes on the training split, got 1'):
            P.probe_accuracy(a, y, kind='ridge')
    else:                                          # the closed form is scikit-learn's ridge classifier, up to a tie
        assert abs(P.probe_accuracy(a, y, kind='ridge') - _sklearn_ridge_accuracy(a, y, tr, te)) <= 1 / len(te) + 1e-12
    d = np.array([1.0, -2.0, 0.5, 0.0])
    once = A.project_out(a, d)
    assert np.allclose(A.project_out(once, d), once, atol=1e-6)
    assert np.allclose(once @ d, (a @ d).mean(), atol=1e-6 * (1 + np.abs(a).max()))
    assert A.rsa(a, y) == A.rsa(a, 1 - y)          # relabelling the two classes leaves the feature's RDM as it was
