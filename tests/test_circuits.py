"Circuits, pruning and the circuit widgets: bad input, bounded failure, static views, slider numbers, shipped files."
import importlib.util, time
from pathlib import Path

import pytest
import torch
from matplotlib.figure import Figure

from sparse_tutor.core.models import Transformer
from sparse_tutor.core.pretrained import code_model_config, load_pretrained, CODE_TASKS, RECIPES
from sparse_tutor.core.code_tasks import logit_diff
from sparse_tutor.circuits import graph, ablation, checks
from sparse_tutor.circuits import prune as pruning
from sparse_tutor.experiments import tracing
from sparse_tutor.widgets.ablation_sliders import AblationSliders
from sparse_tutor.widgets.circuit_graph import CircuitGraph, graph_layout, top_tokens
from sparse_tutor.exercises import lesson3, lesson4

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    m = Transformer(code_model_config())
    return m.eval()


@pytest.fixture(scope='module')
def circuit(model):
    masks = graph.full_masks(model, False)
    for loc, idx in (('L0.attn_in', [1, 2]), ('L0.k', [4]), ('L0.v', [5, 6]), ('L0.attn_out', [1]),
                     ('L1.mlp_in', [1, 2]), ('L1.mlp', [7, 8, 9]), ('L1.mlp_out', [3])):
        masks[loc][idx] = True
    return pruning.Circuit('single_double_quote', masks, 0.15, 0.1, 1e-3)


# --- bad input -------------------------------------------------------------------------------------------------

def test_prune_unknown_task(model):
    with pytest.raises(ValueError, match=r"task: expected one of .*got 'no_such_task'"):
        pruning.prune(model, 'no_such_task')
    with pytest.raises(TypeError, match='task'):
        pruning.prune(model, 3)


def test_prune_unreachable_target_is_a_clear_error_not_a_hang(model):
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r'target_loss: expected a loss this model can reach.*intact model'):
        pruning.prune(model, 'bracket_counting', target_loss=0.01, steps=10, n=16)
    assert time.perf_counter() - t0 < 30


def test_prune_unreachable_best_returns_marked_circuit(model):
    c = pruning.prune(model, 'bracket_counting', target_loss=0.01, steps=5, n=16, on_unreachable='best')
    assert c.reached is False and c.loss > 0.01 and c.meta['steps'] == 5


@pytest.mark.parametrize('kw, exc, word', [
    (dict(target_loss=-1), ValueError, 'target_loss'), (dict(target_loss=float('nan')), ValueError, 'target_loss'),
    (dict(target_loss='low'), TypeError, 'target_loss'), (dict(lam=-1e-3), ValueError, 'lam'),
    (dict(steps=0), ValueError, 'steps'), (dict(steps=2.5), TypeError, 'steps'), (dict(n=7), ValueError, 'n'),
    (dict(on_unreachable='ignore'), ValueError, 'on_unreachable'), (dict(lr=0), ValueError, 'lr')])
def test_prune_bad_arguments(model, kw, exc, word):
    with pytest.raises(exc, match=word):
        pruning.prune(model, 'bracket_counting', **kw)


def test_prune_bad_model():
    with pytest.raises(TypeError, match='model: expected a sparse_tutor Transformer'):
        pruning.prune(torch.nn.Linear(2, 2), 'bracket_counting')


def test_masks_bad_input(model):
    with pytest.raises(ValueError, match='unknown location'):
        graph.count_edges(model, {'L9.mlp': torch.ones(3, dtype=torch.bool)})
    with pytest.raises(ValueError, match=r"expected shape \(256,\)"):
        graph.count_edges(model, {'L0.mlp': torch.ones(3, dtype=torch.bool)})
    with pytest.raises(ValueError, match='node'):
        graph.parse_node('L0.mlp17')
    with pytest.raises(TypeError, match='node'):
        graph.parse_node(17)
    with pytest.raises(ValueError, match='ablation'):
        ablation.evaluate_masks(model, ablation.task_batch('bracket_counting', 8), graph.full_masks(model),
                                ablation='half')


def test_read_circuit_rejects_other_files(tmp_path):
    with pytest.raises(ValueError, match='path: no circuit file'):
        pruning.read_circuit(tmp_path / 'missing.safetensors')
    p = tmp_path / 'junk.safetensors'
    p.write_bytes(b'not a safetensors file')
    with pytest.raises(ValueError, match='not a readable circuit file'):
        pruning.read_circuit(p)


def test_circuit_path_bad_variant():
    with pytest.raises(ValueError, match='variant'):
        tracing.circuit_path('medium', 'bracket_counting')


def test_missing_shipped_circuit_names_file_and_command():
    with pytest.raises(ValueError, match=r'sparse_seed3_bracket_counting\.safetensors.*ship-circuits --seeds 3'):
        tracing.load_circuit('sparse', 'bracket_counting', seed=3)
    with pytest.raises(ValueError, match=r'sparse_seed1_bracket_counting_nonsense\.safetensors.*ship-circuits'):
        tracing.load_nonsense_circuit('bracket_counting', seed=1)


# --- what the numbers mean --------------------------------------------------------------------------------------

def _hooked_last_logits(model, batch, scales, reference):
    with model.hooks(ablation.scale_hooks(model, scales, reference)):
        logits = model(batch.tokens)
    return logits[torch.arange(len(batch)), batch.last]


def _random_scales(model, seed):
    g = torch.Generator().manual_seed(seed)
    return {l: torch.rand(w, generator=g) for l, (_, w) in graph.node_locations(model).items()}


def test_ablated_logits_match_hooked_forward(model):
    b = ablation.task_batch('set_or_string', 12, seed=3)
    scales = _random_scales(model, 1)
    with torch.no_grad():
        for per_position in (False, True):
            ref = ablation.node_means(model, b, per_position=per_position)
            got = ablation.ablated_logits(model, b.tokens, b.last, scales, ref)
            assert torch.allclose(got, _hooked_last_logits(model, b, scales, ref), atol=1e-4)


@pytest.mark.parametrize('variant', RECIPES)
@pytest.mark.parametrize('seed', (0, 1, 2))
def test_ablated_logits_match_hooked_forward_on_shipped_models(variant, seed):
    shipped = load_pretrained(variant, seed=seed).model
    scales = _random_scales(shipped, seed)
    with torch.no_grad():
        for task in CODE_TASKS:
            b = ablation.task_batch(task, 32, seed=5, split='test')
            means = ablation.node_means(shipped, ablation.task_batch(task, 64, seed=0))
            got = ablation.ablated_logits(shipped, b.tokens, b.last, scales, means)
            assert torch.allclose(got, _hooked_last_logits(shipped, b, scales, means), atol=1e-4, rtol=1e-4)
            intact = ablation.ablated_logits(shipped, b.tokens, b.last, {}, {})
            assert torch.allclose(intact, shipped(b.tokens)[torch.arange(len(b)), b.last], atol=1e-4, rtol=1e-4)


def test_ablated_logits_refuse_what_they_do_not_compute(model):
    b = ablation.task_batch('bracket_counting', 8)
    with model.hooks({'blocks.0.hook_attn_out': lambda act, name: act * 0}):
        with pytest.raises(ValueError, match='active hooks'):
            ablation.evaluate_masks(model, b)

    class Other(Transformer):
        pass
    with pytest.raises(TypeError, match='subclass Other'):
        ablation.ablated_logits(Other(code_model_config()), b.tokens, b.last, {}, {})


def test_count_edges_brute_force(model, circuit):
    brute = 0
    for s, t, W in graph.weight_edges(model):
        for i in range(W.shape[0]):
            for j in range(W.shape[1]):
                brute += int(W[i, j] != 0 and circuit.masks[t][i] and circuit.masks[s][j])
    assert graph.count_edges(model, circuit.masks) == brute == circuit.edges(model)
    assert circuit.n_nodes == 12 and len(circuit.nodes()) == 12


def test_node_hook_is_the_vocabulary(model):
    assert graph.node_hook(model, 'L0.v[3]') == ('blocks.0.attn.hook_v', 3)
    assert graph.node_hook(model, 'L1.mlp[255]') == ('blocks.1.mlp.hook_post', 255)
    with pytest.raises(ValueError, match='out of range'):
        graph.node_hook(model, 'L1.mlp[256]')


def test_random_like_and_complement(circuit):
    r = checks.random_like(circuit.masks, seed=0)
    assert {l: int(m.sum()) for l, m in r.items()} == {l: int(m.sum()) for l, m in circuit.masks.items()}
    assert graph.count_nodes(checks.complement(circuit.masks)) == 1408 - 12


def test_nonsense_labels_swap_about_half():
    b = ablation.task_batch('bracket_counting', 400)
    nb = ablation.nonsense_labels(b, seed=0)
    swapped = (nb.correct != b.correct).float().mean().item()
    assert 0.4 < swapped < 0.6 and torch.equal(nb.tokens, b.tokens)
    assert torch.equal(torch.where(nb.correct != b.correct, nb.wrong, nb.correct), b.correct)


def test_save_read_round_trip(tmp_path, circuit):
    c2 = pruning.read_circuit(pruning.save_circuit(circuit, tmp_path / 'c.safetensors'))
    assert c2.task == circuit.task and c2.lam == circuit.lam
    assert all(torch.equal(circuit.masks[l], c2.masks[l]) for l in circuit.masks)
    assert list(c2.masks) == list(circuit.masks)


def test_check_circuit_of_the_whole_model(model):
    everything = pruning.Circuit('bracket_counting', graph.full_masks(model), 0.15, 0.1, 0.0)
    r = checks.check_circuit(model, everything, n=40, n_random=2)
    assert r['nodes'] == 1408 and r['edges'] == everything.edges(model)
    assert abs(r['sufficient_loss'] - r['full_loss']) < 1e-5          # nothing is ablated
    assert r['necessary_acc'] <= 0.5                                   # one output for every prompt
    assert r['random_ablation_acc'] == r['random_ablation_acc_min'] == r['necessary_acc']


def test_sweep_prune_records_unreached_coefficients(model):
    best, sizes = pruning.sweep_prune(model, 'bracket_counting', lams=(1e-3,), target_loss=0.9, steps=5, n=16)
    assert best.reached and sizes == {1e-3: best.n_nodes}
    with pytest.raises(ValueError, match='no coefficient'):
        pruning.sweep_prune(model, 'bracket_counting', lams=(1e-3,), target_loss=0.01, steps=5, n=16)
    with pytest.raises(ValueError, match='lams'):
        pruning.sweep_prune(model, 'bracket_counting', lams=())


# --- widgets: static fallbacks, slider moves, the link ------------------------------------------------------------

def test_slider_move_changes_numbers_and_restores(model, circuit):
    sl = AblationSliders(model, circuit, n=32)
    before = sl.numbers()
    moved = sl.set('L1.mlp[8]', 0.0)
    assert moved['logit_diff'] != before['logit_diff']
    assert sl.scales()['L1.mlp'][8] == 0.0 and sl.scales()['L1.mlp'][7] == 1.0
    back = sl.set('L1.mlp[8]', 1.0)
    assert abs(back['logit_diff'] - before['logit_diff']) < 1e-6
    assert len(sl.timings) == 2


def test_slider_cache_from_later_layer_gives_same_numbers(model):
    masks = graph.full_masks(model, False)
    masks['L1.mlp'][[3, 4]] = True
    masks['L0.v'][2] = True
    c = pruning.Circuit('bracket_counting', masks, 0.15, 0.1, 0.0)
    sl = AblationSliders(model, c, n=16, outside='intact')
    assert sl._start == 0
    only_l1 = graph.full_masks(model, False); only_l1['L1.mlp'][[3, 4]] = True
    sl1 = AblationSliders(model, pruning.Circuit('bracket_counting', only_l1, 0.15, 0.1, 0.0), n=16, outside='ablated')
    assert sl1._start == 1 and sl1._cache is not None
    got = sl1.set('L1.mlp[3]', 0.3)
    with torch.no_grad():
        want = ablation.ablated_logits(model, sl1.batch.tokens, sl1.batch.last, sl1.scales(), sl1.means)
    assert abs(got['logit_diff'] - float(logit_diff(want, sl1.batch).mean())) < 1e-5


def test_slider_bad_input(model, circuit):
    sl = AblationSliders(model, circuit, n=16)
    with pytest.raises(ValueError, match='value'):
        sl.set('L1.mlp[8]', 1.5)
    with pytest.raises(TypeError, match='value'):
        sl.set('L1.mlp[8]', 'off')
    with pytest.raises(ValueError, match='group'):
        sl.set('L1.mlp[200]', 0.0)
    with pytest.raises(ValueError, match='outside'):
        AblationSliders(model, circuit, outside='half')
    with pytest.raises(TypeError, match='circuit'):
        AblationSliders(model, circuit.masks)
    with pytest.raises(ValueError, match='at least one node'):
        AblationSliders(model, pruning.Circuit('bracket_counting', graph.full_masks(model, False), 0.15, 0.1, 0.0))


def test_sliders_group_by_location_when_large(model, circuit):
    sl = AblationSliders(model, circuit, n=16, max_sliders=4)
    assert set(sl.groups) == {l for l, m in circuit.masks.items() if m.any()}
    assert sl.group_of('L1.mlp[9]') == 'L1.mlp' and sl.group_of('L1.mlp[10]') is None


def test_sliders_static_fallback_and_knockouts(model, circuit):
    sl = AblationSliders(model, circuit, n=16)
    fig = sl.static()
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert 'accuracy' in fig._suptitle.get_text()
    ko = sl.knockouts()
    assert set(ko) == set(sl.groups) and all(v == 1.0 for v in sl.values.values())
    for group in ('L0.v[5]', 'L1.mlp[9]'):
        assert sl.set(group, 0.0)['acc'] == ko[group]
        sl.reset()


def test_graph_static_fallback_and_selection(model, circuit):
    g = CircuitGraph(model, circuit)
    fig = g.static()
    assert isinstance(fig, Figure) and fig.axes[0].get_title().startswith('single_double_quote')
    assert len(g.nodes) == 12 and g.rows[0] == 'L0.attn_in'
    info = g.select('L0.v[5]')
    assert 'L0.v[5]' in info and info.count('<br>') == 5
    assert 'not in the circuit' in g.select('L0.v[7]')
    g.select('L1.mlp[7]')
    assert 'selected: L1.mlp[7]' in g.static().axes[0].get_title()
    with pytest.raises(TypeError, match='node'):
        g.select(7)


def test_graph_links_to_sliders(model, circuit):
    g, sl = CircuitGraph(model, circuit), AblationSliders(model, circuit, n=16)
    g.link(sl)
    g.select('L1.mlp[9]')
    assert sl.focused == 'L1.mlp[9]'
    with pytest.raises(TypeError, match='sliders'):
        g.link('sliders')


def test_graph_layout_edges_are_circuit_weights(model, circuit):
    lay = graph_layout(model, circuit, max_edges=10_000)
    weights = [e for e in lay['edges'] if e['w'] is not None]
    assert len(weights) == circuit.edges(model)
    ids = {n['id'] for n in lay['nodes']}
    assert all(e['s'] in ids and e['t'] in ids for e in lay['edges'])


def test_top_tokens_bad_node(model):
    with pytest.raises(ValueError, match='node'):
        top_tokens(model, 'L7.mlp[1]', 'bracket_counting')
    with pytest.raises(ValueError, match='out of range'):
        top_tokens(model, 'L0.mlp[999]', 'bracket_counting')


def test_es_module_is_package_data():
    from sparse_tutor.widgets.circuit_graph import STATIC_DIR
    js = (STATIC_DIR / 'circuit_graph.js').read_text()
    assert 'export default' in js and 'selected' in js and 'save_changes' in js


# --- exercises: reference solutions pass, wrong answers fail -------------------------------------------------------

def _solutions(name):
    p = next((ROOT / 'solutions').glob(f'{name}_*.py'))
    spec = importlib.util.spec_from_file_location(p.stem, p)
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod


def test_lesson3_solutions_pass_and_wrong_answers_fail():
    s = _solutions('03')
    assert lesson3.check_l3_density(s.density, quiet=True) and lesson3.check_l3_keep_top_k(s.keep_top_k, quiet=True)
    assert not lesson3.check_l3_density(lambda w: 1.0, quiet=True)
    assert not lesson3.check_l3_keep_top_k(lambda w, k: w, quiet=True)


def test_lesson4_solutions_pass_and_wrong_answers_fail(model, circuit):
    s = _solutions('04')
    assert lesson4.check_l4_edges(s.edges_between, quiet=True) and lesson4.check_l4_scale_hook(s.scale_hook, quiet=True)
    assert not lesson4.check_l4_edges(lambda w, a, b: int((w != 0).sum()), quiet=True)
    assert not lesson4.check_l4_scale_hook(lambda sc, m: (lambda act, name: act.mul_(sc)), quiet=True)
    sl = AblationSliders(model, circuit, n=16)
    ko = sl.knockouts()
    worst = min(ko, key=ko.get)
    assert lesson4.check_l4_key_node(s.key_node(sl), sl, quiet=True)
    assert lesson4.check_l4_key_node(worst, sl, quiet=True)
    assert not lesson4.check_l4_key_node('L0.mlp[255]', sl, quiet=True)
    assert not lesson4.check_l4_key_node(None, sl, quiet=True)


# --- shipped circuits ---------------------------------------------------------------------------------------------

def test_every_shipped_circuit_is_there_and_nothing_else():
    expected = tracing.shipped_circuit_paths()
    missing = [p.name for p in expected if not p.is_file()]
    assert not missing, f"missing from {tracing.CIRCUIT_DIR}: {missing} (made by `sparse-tutor ship-circuits`)"
    stray = sorted({p.name for p in tracing.CIRCUIT_DIR.glob('*.safetensors')} - {p.name for p in expected})
    assert not stray, f"files in {tracing.CIRCUIT_DIR} that no loader reads: {stray}"


def test_shipped_circuits_reach_their_target():
    for path in tracing.shipped_circuit_paths():
        c = pruning.read_circuit(path)
        assert c.task.replace(' (nonsense)', '') in CODE_TASKS and c.n_nodes > 0, path.name
        if 'nonsense' not in path.name:
            assert c.reached and c.loss <= c.target_loss == pruning.CODE_TARGET_LOSS, path.name


def test_fresh_prune_finds_the_shipped_circuit():
    "Same recipe, same seed, same prompts: the shipped circuit again, node for node and loss for loss."
    shipped = tracing.load_circuit('sparse', 'single_double_quote')
    fresh = pruning.prune(load_pretrained('sparse').model, 'single_double_quote', target_loss=shipped.target_loss,
                          lam=shipped.lam)
    assert fresh.loss == shipped.loss and fresh.meta['k_learned'] == shipped.meta['k_learned']
    assert all(torch.equal(fresh.masks[l], shipped.masks[l]) for l in shipped.masks)
