"Bad inputs to sparse_tutor.analysis.representation get a ValueError/TypeError that names the argument; valid ones behave."
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from sparse_tutor.analysis import representation as A

rng = np.random.default_rng(0)
N, D = 120, 6
ACTS = rng.normal(size=(N, D))
LAB = rng.integers(0, 2, N)

FUNCS = {
    'variance_explained': lambda a, y, **kw: A.variance_explained(a, y, **kw),
    'probe_accuracy': lambda a, y, **kw: A.probe_accuracy(a, y, **kw),
    'rsa': lambda a, y, **kw: A.rsa(a, y, **kw),
    'pcs_until_decodable': lambda a, y, **kw: A.pcs_until_decodable(a, y, ks=[1, 2], **kw),
}
LABEL_NAME = {'rsa': 'feature'}

@pytest.mark.parametrize('fn', FUNCS)
def test_length_mismatch_names_labels(fn):
    with pytest.raises(ValueError, match=f"{LABEL_NAME.get(fn, 'labels')} has 50 entries but the activations have {N}"):
        FUNCS[fn](ACTS, LAB[:50])

@pytest.mark.parametrize('fn', FUNCS)
def test_constant_feature(fn):
    with pytest.raises(ValueError, match='is constant'): FUNCS[fn](ACTS, np.ones(N, dtype=int))

@pytest.mark.parametrize('fn', FUNCS)
@pytest.mark.parametrize('where', ['acts', 'labels'])
def test_nans(fn, where):
    a, y = ACTS.copy(), LAB.astype(float)
    if where == 'acts': a[3, 2] = np.nan
    else: y[5] = np.nan
    name = 'acts' if where == 'acts' else LABEL_NAME.get(fn, 'labels')
    with pytest.raises(ValueError, match=f'{name} contains'): FUNCS[fn](a, y)

@pytest.mark.parametrize('fn', FUNCS)
@pytest.mark.parametrize('shape', [(N,), (N, D, 2)])
def test_wrong_ndim(fn, shape):
    with pytest.raises(ValueError, match='acts must be 2-D'): FUNCS[fn](np.zeros(shape), LAB)

@pytest.mark.parametrize('fn', FUNCS)
@pytest.mark.parametrize('bad', ['acts', {'a': 1}, None, [['x', 'y']]])
def test_not_an_array(fn, bad):
    with pytest.raises(TypeError, match='acts'): FUNCS[fn](bad, LAB)

@pytest.mark.parametrize('k', [0, D + 1, -3])
@pytest.mark.parametrize('fn', ['variance_explained', 'probe_accuracy'])
def test_k_out_of_range(fn, k):
    with pytest.raises(ValueError, match=f'k must be between 1 and {D}'): FUNCS[fn](ACTS, LAB, k=k)

@pytest.mark.parametrize('k', [1.5, '2', True])
def test_k_wrong_type(k):
    with pytest.raises(TypeError, match='k must be an int'): A.variance_explained(ACTS, LAB, k=k)

def test_other_arguments():
    with pytest.raises(ValueError, match='test_frac'): A.variance_explained(ACTS, LAB, test_frac=1.5)
    with pytest.raises(ValueError, match='encoding'): A.variance_explained(ACTS, LAB, encoding='bits')
    with pytest.raises(ValueError, match='kind'): A.probe_accuracy(ACTS, LAB, kind='forest')
    with pytest.raises(ValueError, match='class labels'): A.probe_accuracy(ACTS, LAB + 0.25)
    with pytest.raises(ValueError, match='max_items'): A.rsa(ACTS, LAB, max_items=2)
    with pytest.raises(ValueError, match='metric'): A.rsa(ACTS, LAB, metric='no-such-metric')
    with pytest.raises(ValueError, match='threshold'): A.pcs_until_decodable(ACTS, LAB, threshold=2)
    with pytest.raises(ValueError, match='ks entries'): A.pcs_until_decodable(ACTS, LAB, ks=[0])
    with pytest.raises(ValueError, match='at least 4 rows'): A.variance_explained(ACTS[:3], LAB[:3])
    with pytest.raises(TypeError, match='features must be a dict'): A.variance_explained_all(ACTS, [LAB])
    with pytest.raises(ValueError, match='X must be 1-D or 2-D'): A.rdm(np.zeros((3, 2, 2)))

def test_ablation_bad_input():
    with pytest.raises(ValueError, match=r'directions must have shape \(m, 6\)'): A.project_out(ACTS, np.ones(5))
    with pytest.raises(ValueError, match='directions are all zero'): A.project_out(ACTS, np.zeros(D))
    with pytest.raises(ValueError, match='about'): A.project_out(ACTS, np.ones(D), about='median')
    with pytest.raises(ValueError, match=r'about must have shape \(6,\)'): A.project_out(ACTS, np.ones(D), about=np.ones(3))
    with pytest.raises(ValueError, match='pcs must be indices between 0 and 5'): A.ablate_pcs(ACTS, [6])
    with pytest.raises(ValueError, match='pca_fit was fitted on 6 units'): A.ablate_pcs(ACTS[:, :4], [0], A.pca(ACTS))
    with pytest.raises(ValueError, match='k must be between 1 and 6'): A.keep_top_pcs(ACTS, 7)

def test_torch_and_lists_accepted():
    t = torch.tensor(ACTS, dtype=torch.float32, requires_grad=True)
    assert np.isclose(A.variance_explained(t, torch.tensor(LAB)), A.variance_explained(ACTS, LAB), atol=1e-5)
    assert A.probe_accuracy(ACTS.tolist(), LAB.tolist()) == A.probe_accuracy(ACTS, LAB)
    assert A.probe_accuracy(ACTS, LAB.astype(bool)) == A.probe_accuracy(ACTS, LAB)

def test_deterministic_and_seeded():
    assert A.probe_accuracy(ACTS, LAB, kind='mlp', seed=3) == A.probe_accuracy(ACTS, LAB, kind='mlp', seed=3)
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

finite = st.floats(-100, 100, allow_nan=False, allow_infinity=False)

@settings(max_examples=40, deadline=None)
@given(a=arrays(np.float64, (30, 4), elements=finite), flip=st.integers(1, 28))
def test_properties(a, flip):
    y = np.zeros(30, dtype=int); y[:flip] = 1
    a = a + np.arange(30)[:, None] * 1e-3          # never exactly constant
    assert A.variance_explained(a, y) <= 1 + 1e-9
    tr, _ = A.split_indices(30, 0.5, 0)
    if len(np.unique(y[tr])) < 2:                  # one class only on the training split: a clear error, not a number
        with pytest.raises(ValueError, match='single class on the training split'): A.probe_accuracy(a, y, kind='ridge')
    else: assert 0 <= A.probe_accuracy(a, y, kind='ridge') <= 1
    d = np.array([1.0, -2.0, 0.5, 0.0])
    once = A.project_out(a, d)
    assert np.allclose(A.project_out(once, d), once, atol=1e-6)
    assert np.allclose(once @ d, (a @ d).mean(), atol=1e-6 * (1 + np.abs(a).max()))
    r = A.rsa(a, y)
    assert -1 - 1e-9 <= r <= 1 + 1e-9
