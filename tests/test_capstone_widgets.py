"The capstone explorer: its numbers, its moves, its static figure, its widget and its bad-input errors."
import io

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from sparse_tutor.core.train import one_thread
from sparse_tutor.core.models import MLP, MLPConfig
from sparse_tutor.analysis.representation import split_indices
from sparse_tutor.analysis.probes import probe_from_coords
from sparse_tutor.core.models import hidden_acts
from sparse_tutor.circuits.mlp import forward_blend, feature_losses
from sparse_tutor.experiments.capstone_models import CapstoneModel, load_capstone, capstone_data
from sparse_tutor.experiments.capstone import analysis_scores
from sparse_tutor.widgets.capstone_explorer import CapstoneExplorer, ORDERS, bench_capstone_slider_ms
from sparse_tutor.analysis.probes import ridge_probes

one_thread()
DENSE, SPARSE = load_capstone('easy_hard', 'dense', 0), load_capstone('easy_hard', 'sparse', 0)
VS = ('dense', 'sparse')

@pytest.fixture(scope='module')
def shared(): return CapstoneExplorer(DENSE, SPARSE, n=400)

@pytest.fixture
def ex(shared):
    shared.set(feature='easy', order='analysis'); shared.reset()
    return shared

def _core(nums):
    return {v: (nums[v]['acc'], nums[v]['loss'], nums[v]['probe'], nums[v]['circuit_hits'], nums[v]['n_ablated']) for v in VS}

def test_intact_numbers(ex):
    n = ex.numbers()
    assert set(n) >= {'dense', 'sparse', 'feature', 'order', 'ablated'} and n['feature'] == 'easy'
    for v in VS:
        assert all(a > 0.95 for a in n[v]['acc'].values()) and set(n[v]['loss']) == {'easy', 'hard'}
        assert set(n[v]['probe']) == {'easy', 'hard'} and n[v]['n_ablated'] == n[v]['circuit_hits'] == 0
        assert n[v]['circuit_size'] == getattr(ex.cms[v].circuits['easy'], 'n_nodes')

def test_one_step_moves_the_numbers(ex):
    before = _core(ex.numbers())
    after = ex.set(order='ablation', **{'hidden.0.hook_post': 1})
    for v in VS:
        assert after[v]['n_ablated'] == 1 and after[v]['ablated'] == {'hidden.0.hook_post': 1, 'hidden.1.hook_post': 0,
                                                                       'hidden.2.hook_post': 0, 'hidden.3.hook_post': 0}
        assert after[v]['loss'] != before[v][1]
    assert _core(after) != before

def test_analysis_order_ablates_the_top_eta_squared_node(ex):
    ex.set(feature='hard', order='analysis', **{'hidden.2.hook_post': 1})
    for v in VS:
        scores, _ = analysis_scores(ex.cms[v].model, ex.data)
        eta = scores['hard'][64:96]                                     # layer 2 of four 32-wide layers
        assert ex.ablated(v)['hidden.2.hook_post'].tolist() == [int(np.argmax(eta))]

def test_move_is_forward_blend(ex):
    nums = ex.set(feature='hard', order='random', **{'hidden.1.hook_post': 7, 'hidden.3.hook_post': 3})
    for v in VS:
        scales = {name: torch.ones(width).index_fill_(0, ex.ablated(v)[name], 0.0) for name, width in ex.widths.items()}
        assert sorted(int((s == 0).sum()) for s in scales.values()) == [0, 0, 3, 7]
        with torch.no_grad(): out = forward_blend(ex.cms[v].model, ex.data['x'], scales, ex._m[v]['means'])
        for f, loss in feature_losses(out, ex.data).items(): assert np.isclose(float(loss), nums[v]['loss'][f], atol=1e-6)

def test_reset_restores_the_intact_numbers(ex):
    intact = _core(ex.numbers())
    ex.set(order='random', **{name: 9 for name in ex.layers})
    assert _core(ex.numbers()) != intact
    assert _core(ex.reset()) == intact and all(k == 0 for k in ex.ks.values())

def test_everything_ablated_is_chance(ex):
    n = ex.set(**ex.widths)
    y = ex.data['y'].numpy()
    for v in VS:
        for i, f in enumerate(ex.features): assert n[v]['acc'][f] <= max(y[:, i].mean(), 1 - y[:, i].mean()) + 1e-9
        assert n[v]['circuit_hits'] == n[v]['circuit_size'] and n[v]['n_ablated'] == 128
        for b in ex.labels: assert n[v]['probe'][b] <= ex.chance[b] + 1e-9     # a constant guess: majority at best

def test_static_figure_carries_the_numbers(ex):
    fig = ex.static(feature='hard', order='ablation', **{'hidden.0.hook_post': 2})
    nums = ex.numbers()
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    acc, probe, circ = fig.axes
    heights = [b.get_height() for b in acc.patches]                 # dense easy, dense hard, sparse easy, sparse hard
    assert np.allclose(heights, [nums[v]['acc'][f] for v in VS for f in ('easy', 'hard')])
    texts = ' '.join(t.get_text() for t in acc.texts)
    for v in VS:
        for f in ('easy', 'hard'): assert f"loss {nums[v]['loss'][f]:.4f}" in texts
    assert np.allclose([b.get_height() for b in probe.patches], [nums[v]['probe'][b] for v in VS for b in ('easy', 'hard')])
    assert [t.get_text() for t in circ.texts] == [f"{nums[v]['circuit_hits']}/{nums[v]['circuit_size']}" for v in VS]
    assert "'ablation'" in fig._suptitle.get_text() and 'L0 2/32' in fig._suptitle.get_text()
    fig.savefig(io.BytesIO(), format='png')                           # renders headless

def test_widget_sliders_move_the_numbers(ex):
    ui = ex.widget()
    assert ex.widget() is ui
    text, s = ex._w['table'].value, ex._w['sliders']['hidden.1.hook_post']
    s.value = 4
    assert ex.ks['hidden.1.hook_post'] == 4 and ex._w['table'].value != text and '4 of 128' in ex._w['table'].value
    ex._w['order'].value = 'random'
    assert ex.order == 'random' and "order &#x27;random&#x27;" in ex._w['table'].value
    ex.set(**{'hidden.1.hook_post': 2})                               # Python moves the slider, without a loop
    assert s.value == 2 and '2 of 128' in ex._w['table'].value
    ex._w['reset'].click()
    assert s.value == 0 and all(k == 0 for k in ex.ks.values())

def test_ridge_probes_match_the_analysis_probe():
    d = capstone_data('easy_hard', 0, 'test', 300)
    a = hidden_acts(SPARSE.model, d['x'])['hidden.3.hook_post'].double().numpy()
    a[:, :10] = a[:, :10].mean(0)
    tr, te = split_indices(300, 0.5, 0)
    labs = {'easy': d['labels']['easy'], 'hard': d['labels']['hard'], 'three': np.arange(300) % 3}
    got = ridge_probes(a, labs, tr, te)
    assert got == {k: probe_from_coords(a, y, tr, te, kind='ridge') for k, y in labs.items()}
    assert got['easy'] > 0.95 and got['three'] < 0.5

def _other(shape_hidden=(32,) * 4, **kw):
    base = dict(task='easy_hard', variant='sparse', seed=0, model=MLP(MLPConfig(16, 2, shape_hidden)), circuits=SPARSE.circuits)
    return CapstoneModel(**(base | kw))

@pytest.mark.parametrize('call, err, msg', [
    (lambda: CapstoneExplorer('dense', SPARSE), TypeError, r'dense: expected a CapstoneModel.*got str'),
    (lambda: CapstoneExplorer(DENSE, SPARSE, seed=-1), ValueError, r'seed: expected an int >= 0, got -1'),
    (lambda: CapstoneExplorer(DENSE, SPARSE.model), TypeError, r'sparse: expected a CapstoneModel.*got MLP'),
    (lambda: CapstoneExplorer(SPARSE, DENSE), ValueError, r"dense: expected a CapstoneModel of variant 'dense'"),
    (lambda: CapstoneExplorer(DENSE, load_capstone('cipher', 'sparse', 0)), ValueError, r"sparse: .*task 'easy_hard', got task 'cipher'"),
    (lambda: CapstoneExplorer(DENSE, load_capstone('easy_hard', 'sparse', 1)), ValueError, r'sparse: .*seed 0, got seed 1'),
    (lambda: CapstoneExplorer(DENSE, _other((16,) * 4)), ValueError, r'sparse: .*shape.*\(16, 16, 16, 16\)'),
    (lambda: CapstoneExplorer(DENSE, SPARSE, n=10), ValueError, r'n: expected an int >= 100, got 10'),
    (lambda: CapstoneExplorer(DENSE, SPARSE, n=500.0), TypeError, r'n: expected an int >= 100, got float 500.0'),
])
def test_bad_construction(call, err, msg):
    with pytest.raises(err, match=msg): call()

@pytest.mark.parametrize('kw, exc, msg', [
    ({'feature': 'sum'}, ValueError, r"feature: expected one of \['easy', 'hard'\], got 'sum'"),
    ({'order': 'eta'}, ValueError, r"order: expected one of \['analysis', 'ablation', 'random'\], got 'eta'"),
    ({'hidden.9.hook_post': 1}, ValueError, r"layer: expected one of \['hidden.0.hook_post', .*got 'hidden.9.hook_post'"),
    ({'hidden.0.hook_post': 33}, ValueError, r'hidden.0.hook_post: expected an int number of ablated nodes in 0..32, got 33'),
    ({'hidden.0.hook_post': -1}, ValueError, r'hidden.0.hook_post: expected an int .* in 0..32, got -1'),
    ({'hidden.0.hook_post': 2.0}, TypeError, r'hidden.0.hook_post: expected an int .*got float 2.0'),
    ({'hidden.0.hook_post': True}, TypeError, r'hidden.0.hook_post: expected an int .*got bool True'),
])
def test_bad_moves_change_nothing(ex, kw, exc, msg):
    before = (ex.state(), _core(ex.numbers()))
    with pytest.raises(exc, match=msg): ex.set(**({'order': 'random'} | kw))
    assert (ex.state(), _core(ex.numbers())) == before

def test_orders_differ_and_random_is_shared(ex):
    ex.set(feature='hard', **{'hidden.0.hook_post': 5})
    picked = {o: (ex.set(order=o), {v: ex.ablated(v)['hidden.0.hook_post'].tolist() for v in VS})[1] for o in ORDERS}
    assert picked['random']['dense'] == picked['random']['sparse']        # the same seeded permutation for both
    assert picked['analysis']['dense'] != picked['ablation']['dense']

def test_bench_slider_ms():
    r = bench_capstone_slider_ms(n_moves=5)
    assert set(r) == {'easy_hard', 'cipher'}
    for t in r.values(): assert t['n'] == 5 and t['p95'] < 1000
    with pytest.raises(ValueError, match='n_moves: expected an int >= 1, got 0'): bench_capstone_slider_ms(0)
