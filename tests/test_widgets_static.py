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


def _shown(ex):
    "What the probe explorer's live widget shows: controls, the scatter's title (picture and text) and the numbers."
    w = ex._w
    return (ex.layers[w['layer'].value], w['k'].value, w['feature'].value, ex._scatter.ax.get_title(), w['title'].value,
            w['text'].value)


def _agrees(ex):
    layer, k, feature, title, title_text, text = _shown(ex)
    assert (layer, k, feature) == (ex.layer, ex.k, ex.feature)
    assert title == f'{layer}: PCA, coloured by {feature}' and f'>{title}<' in title_text
    assert f'top {k} PCs of {layer}:' in text


def test_widget_never_stale_after_static_set_and_every_control(ex):
    "The static figure, `set`, and then every control in turn: the widget's title and numbers follow each time."
    ex.widget()
    ex.static('first', 1, 'loud'); _agrees(ex)
    ex.set(layer='second', k=3); _agrees(ex)
    ex.static('first', 2, 'quiet'); _agrees(ex)
    for control, value in (('layer', 1), ('k', 6), ('feature', 'size'), ('layer', 0), ('k', 1), ('feature', 'loud')):
        ex._w[control].value = value
        _agrees(ex)
    assert ex.numbers() == ex.numbers('first', 1)


def test_ablation_sliders_and_graph_never_stale():
    "Lesson 4's sliders: after static(), set, reset and a linked graph click, the text shows the sliders' own state."
    from sparse_tutor.core.pretrained import load_pretrained
    from sparse_tutor.experiments.tracing import load_circuit
    from sparse_tutor.widgets.ablation_sliders import AblationSliders
    from sparse_tutor.widgets.circuit_graph import CircuitGraph
    model, circuit = load_pretrained('sparse').model, load_circuit('sparse', 'single_double_quote')
    sliders, graph = AblationSliders(model, circuit, n=16), CircuitGraph(model, circuit)
    sliders.widget(); graph.link(sliders)
    def agrees():
        assert all(s.value == sliders.values[g] for g, s in sliders._sliders.items())
        fresh = AblationSliders(model, circuit, n=16)            # the same slider values from scratch
        fresh.set(**sliders.values)
        assert f"accuracy {fresh.numbers()['acc']:.1%}" in sliders._out.value
    first = next(iter(sliders.groups))
    sliders.static(); agrees()
    sliders.set(first, 0.0); agrees()
    sliders.static(); agrees()                                   # knock-outs leave the sliders where they were
    node = f"{sliders.groups[first][0][0]}[{sliders.groups[first][0][1]}]"
    graph.select(node)
    assert sliders.focused == first and f'selected: {first}' in sliders._out.value
    for group in sliders.groups:                                 # every control after the click
        sliders._sliders[group].value = 0.5
        agrees(); assert f'selected: {first}' in sliders._out.value
    sliders.reset(); agrees()
    assert all(v == 1.0 for v in sliders.values.values())


def test_scrubber_never_stale_after_static():
    "Lesson 5's scrubber: its static figure leaves the live widget's step, picture and text in agreement."
    from sparse_tutor.experiments.familiarity import load_snapshots, tiny_familiarity
    from sparse_tutor.widgets.scrubber import SnapshotScrubber
    scrubber = SnapshotScrubber(tiny_familiarity(load_snapshots(), n=20, seed=0))
    scrubber.widget()
    scrubber.static()
    for step in scrubber.steps[::-1]:
        scrubber._w['slider'].value = step
        assert scrubber.step == step and scrubber._w['text'].value == scrubber.text(step)
        assert scrubber._w['image'].value == scrubber.png(step)
    scrubber.static(scrubber.steps[2])
    assert scrubber._w['slider'].value == scrubber.step and scrubber._w['text'].value == scrubber.text()
