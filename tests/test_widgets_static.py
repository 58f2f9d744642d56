"The probe explorer works with no widget front end: its static figure, its numbers, its bad-input errors."
import numpy as np
import pytest
from matplotlib.figure import Figure

from sparse_tutor.analysis.representation import variance_explained, pca
from sparse_tutor.analysis.probes import probe_accuracy
from sparse_tutor.widgets.probe_explorer import ProbeExplorer

rng = np.random.default_rng(1)
N = 400
LOUD, QUIET = rng.integers(0, 2, N), rng.integers(0, 2, N)
H = 3 * np.outer(2 * LOUD - 1, np.eye(5)[0]) + 0.4 * np.outer(2 * QUIET - 1, np.eye(5)[1]) + 0.1 * rng.normal(size=(N, 5))
ACTS = {'first': H, 'second': np.tanh(H @ rng.normal(size=(5, 8)))}
LABELS = {'loud': LOUD, 'quiet': QUIET, 'size': rng.normal(size=N)}

@pytest.fixture
def ex(): return ProbeExplorer(ACTS, LABELS, max_points=300)

def test_static_figure(ex):
    fig = ex.static('first', 5, 'quiet')
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    sc, ve, pr = fig.axes
    assert sc.collections[0].get_offsets().shape == (300, 2)
    assert 'coloured by quiet' in sc.get_title() and 'top 5 PCs' in ve.get_title()
    heights = [b.get_height() for b in ve.patches]
    want = [variance_explained(H, LABELS[f], k=5) for f in LABELS]
    assert np.allclose(heights, want)
    probe = [b.get_height() for b in pr.patches]
    assert probe[2] == 0 and probe[0] > 0.99 and probe[1] > 0.99       # 'size' is real-valued: no probe
    assert [t.get_text() for t in pr.texts][2] == 'n/a'
    fig.canvas.draw()                                                   # renders headless (Agg)

def test_scatter_is_pca(ex):
    fig = ex.static('first', 1, 'loud')
    xy = fig.axes[0].collections[0].get_offsets()
    pc = pca(H[ex.tr]).transform(H)[ex.shown, :2]
    assert np.allclose(np.abs(xy), np.abs(pc))

def test_numbers_follow_k(ex):
    one, five = ex.numbers('first', 1), ex.numbers('first', 5)
    assert one['probe']['quiet'] < 0.7 < 0.99 < five['probe']['quiet']
    assert one['variance_kept'] < five['variance_kept'] <= 1 + 1e-9
    assert one['probe']['quiet'] == probe_accuracy(H, QUIET, kind='ridge', k=1)
    assert ex.numbers('first', 1) is one                              # cached

def test_set_clamps_k_to_the_layer(ex):
    ex.set(layer='second', k=8)
    assert ex.k == 8
    ex.set(layer='first')
    assert ex.layer == 'first' and ex.k == 5

def test_widget_builds_without_front_end(ex):
    ui = ex.widget()
    assert ex.widget() is ui
    ex._w['layer'].value = 1
    assert ex.layer == 'second' and ex._w['k'].max == 8
    ex._w['feature'].value = 'size'
    assert ex.feature == 'size' and ex._w['scatter'].value[:4] == b'\x89PNG'
    assert 'loud:' in ex._w['text'].value and 'size:' not in ex._w['text'].value

@pytest.mark.parametrize('call, err, msg', [
    (lambda: ProbeExplorer([], LABELS), TypeError, 'acts: expected a non-empty dict layer name -> activations, got list'),
    (lambda: ProbeExplorer({}, LABELS), ValueError, r'acts: expected a non-empty dict .*, got \{\}'),
    (lambda: ProbeExplorer(ACTS, 'loud'), TypeError, 'labels: expected a non-empty dict feature name -> labels'),
    (lambda: ProbeExplorer(ACTS, {'x': np.ones(N)}), ValueError, r"labels\['x'\]: expected values that vary, got a constant"),
    (lambda: ProbeExplorer(ACTS, {'x': LOUD[:10]}), ValueError, r"labels\['x'\]: expected 400 entries, one per row of the activations, got 10"),
    (lambda: ProbeExplorer({'a': H, 'b': H[:10]}, LABELS), ValueError, 'same number of inputs'),
    (lambda: ProbeExplorer({'a': H[:, 0]}, LABELS), ValueError, r"acts\['a'\]: expected a 2-D array"),
    (lambda: ProbeExplorer(ACTS, LABELS).numbers('first', 6), ValueError, r'k: expected an int in \[1, 5\], got 6'),
    (lambda: ProbeExplorer(ACTS, LABELS).numbers('first', 2.0), TypeError, 'k: expected an int in'),
    (lambda: ProbeExplorer(ACTS, LABELS).numbers('third', 1), ValueError, 'layer: expected one of'),
    (lambda: ProbeExplorer(ACTS, LABELS).numbers(2, 1), ValueError, r'layer: expected a layer index in 0\.\.1'),
    (lambda: ProbeExplorer(ACTS, LABELS).static(feature='colour'), ValueError, 'feature: expected one of'),
])
def test_bad_input(call, err, msg):
    with pytest.raises(err, match=msg): call()
