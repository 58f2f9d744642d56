"""Lesson 7 (the capstone): the training recipe reproduces the shipped models, pruning and the checks behave on every
kind of bad input with a clear message, the detection gap means what the lesson says, and the findings are
well-formed."""
import numpy as np
import pytest
import torch

from sparse_tutor.circuits import mlp as MC
from sparse_tutor.experiments import capstone_models as CM
from sparse_tutor.experiments import capstone as C


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope='module')
def shipped():
    return {v: CM.load_capstone('easy_hard', v, 0) for v in CM.VARIANTS}


# --- the recipe and the shipped files ---------------------------------------------------------------------------

@pytest.mark.parametrize('task', CM.CAPSTONE_TASKS)
def test_retrain_reproduces_the_shipped_sparse_model(task):
    fresh, _ = CM.train_capstone(task, 'sparse', 0)
    shipped = CM.load_capstone(task, 'sparse', 0).model
    for (n, a), (_, b) in zip(fresh.state_dict().items(), shipped.state_dict().items()):
        assert torch.equal(a, b), n


def test_every_shipped_model_solves_its_task_and_has_its_density():
    for t in CM.CAPSTONE_TASKS:
        for v in CM.VARIANTS:
            for s in CM.SEEDS:
                cm = CM.load_capstone(t, v, s)
                d = CM.capstone_data(t, s)
                with torch.no_grad(): acc = MC.feature_accuracy(MC.forward_blend(cm.model, d['x']), d)
                assert min(acc.values()) >= 0.98, (t, v, s, acc)
                dens = [float((layer.linear.weight != 0).float().mean()) for layer in cm.model.hidden]
                if v == 'sparse': assert max(dens) <= CM.DENSITY + 0.01, dens
                else: assert min(dens) > 0.99, dens
                assert set(cm.circuits) == set(CM.OUTPUTS[t])


def test_ship_round_trip(tmp_path, monkeypatch):
    monkeypatch.setattr(CM, 'CAPSTONE_TASKS', ('easy_hard',))
    rep = CM.ship_capstone(seeds=(3,), out_dir=tmp_path, progress=False)
    assert len(rep) == 2
    for v in CM.VARIANTS:
        a, b = CM.load_capstone('easy_hard', v, 3, root=tmp_path), CM.load_capstone('easy_hard', v, 3)
        for f in CM.OUTPUTS['easy_hard']:
            assert torch.equal(torch.cat(list(a.circuits[f].masks.values())), torch.cat(list(b.circuits[f].masks.values())))


def test_missing_checkpoint_says_how_to_make_it(tmp_path):
    with pytest.raises(ValueError, match=r"path: no sparse_tutor checkpoint at .*cipher_dense_seed0\.safetensors; "
                                         r"make it with `sparse-tutor ship-capstone`"):
        CM.load_capstone('cipher', 'dense', 0, root=tmp_path)


# --- bad input ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('call, exc, msg', [
    (lambda: CM.capstone_data('xor'), ValueError, r"task: expected one of \['easy_hard', 'cipher'\], got 'xor'"),
    (lambda: CM.capstone_data('cipher', seed=-1), ValueError, r"seed: expected an int >= 0, got -1"),
    (lambda: CM.capstone_data('cipher', split='val'), ValueError, r"split: expected one of \['train', 'test'\], got 'val'"),
    (lambda: CM.capstone_data('cipher', n=3), ValueError, r"n: expected an int >= 8, got 3"),
    (lambda: CM.capstone_recipe('cipher', 'medium'), ValueError,
     r"variant: expected one of \['dense', 'sparse'\], got 'medium'"),
    (lambda: CM.load_capstone('cipher', 'dense', 1.5), TypeError, r"seed: expected an int >= 0, got float 1.5"),
    (lambda: CM.capstone_models(retrain='yes'), TypeError, r"retrain: expected True or False, got str 'yes'"),
    (lambda: CM.capstone_models(seeds=3), TypeError, r"seeds: expected a non-empty sequence of ints >= 0, got int 3"),
    (lambda: CM.capstone_models(seeds=()), ValueError, r"seeds: expected a non-empty sequence of ints >= 0, got \(\)"),
    (lambda: CM.ship_capstone(seeds=[0, -2]), ValueError, r"seeds: expected an int >= 0, got -2"),
    (lambda: C.capstone_table([]), TypeError, r"models: expected the dict"),
    (lambda: C.summarise_gaps([]), TypeError, r"reports: expected a non-empty list"),
    (lambda: C.summarise_gaps([{'gap': 1.0}], measure='pearson'), ValueError, r"measure: expected one of \['gap', 'probe_gap'\], got 'pearson'"),
    (lambda: C.model_report('model'), TypeError, r"cm: expected a CapstoneModel \(from load_capstone\), got str"),
    (lambda: C.detection_gap([1, 2], [1, 2, 3]), ValueError, r"score, importance: expected two 1-D arrays of one length"),
    (lambda: C.detection_gap([1, 2, 3], [1, 2, 3], alive=[1, 0, 0]), ValueError, r"alive: expected at least 3 live nodes"),
    (lambda: C.detection_gap([1, 2, 3], [1, 2, 3], alive=[1, 1]), ValueError, r"alive: expected a bool array of shape \(3,\)"),
    (lambda: C.eta_squared(np.zeros((4, 2)), [0, 1]), ValueError, r"acts, labels: expected \[n, d\] and \[n\]"),
    (lambda: C.probe_scores(np.random.rand(6, 2), [1] * 6), ValueError, r"labels: expected at least 2 classes, got 1"),
    (lambda: MC.layer_names(torch.nn.Linear(2, 2)), TypeError, r"model: expected a sparse_tutor MLP, got Linear"),
    (lambda: MC.node_means(torch.nn.Linear(2, 2), CM.capstone_data('cipher', n=8)), TypeError,
     r"model: expected a sparse_tutor MLP, got Linear"),
    (lambda: C.analysis_scores(CM.capstone_model('cipher'), {'x': 1}), TypeError, r"data: expected a dict from capstone_data"),
])
def test_bad_input_is_named(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


def test_prune_bad_input(shipped):
    m, d = shipped['sparse'].model, CM.prune_data('easy_hard', 0)
    target = CM.CAPSTONE_TARGET_LOSS
    with pytest.raises(ValueError, match=r"feature: expected one of \['easy', 'hard'\], got 'sum'"):
        MC.prune_mlp(m, d, 'sum', target_loss=target)
    with pytest.raises(TypeError, match=r"data: expected a batch dict with 'x', 'y' and 'readout', got a dict without "
                                        r"\['y', 'readout'\]"):
        MC.prune_mlp(m, {'x': d['x']}, 'easy', target_loss=target)
    for k, v, exc, msg in (('target_loss', 0, ValueError, r"target_loss: expected a finite number > 0, got 0"),
                           ('lam', float('nan'), ValueError, r"lam: expected a finite number >= 0, got nan"),
                           ('steps', 0, ValueError, r"steps: expected an int in \[1, 100000\], got 0"),
                           ('lr', 'fast', TypeError, r"lr: expected a finite number > 0, got str 'fast'")):
        with pytest.raises(exc, match=msg):
            MC.prune_mlp(m, d, 'easy', **({'target_loss': target} | {k: v}))
    with pytest.raises(ValueError, match=r"lams: expected a non-empty sequence of numbers >= 0, got \(\)"):
        MC.sweep_prune_mlp(m, d, 'easy', lams=(), target_loss=target)
    with pytest.raises(TypeError, match=r"lams: expected a non-empty sequence of numbers >= 0, got float 0.01"):
        MC.sweep_prune_mlp(m, d, 'easy', lams=0.01, target_loss=target)


def test_unreachable_target_is_a_clear_error_not_a_hang():
    untrained = CM.capstone_model('easy_hard')          # its loss is about log 2 = 0.69
    with pytest.raises(ValueError, match=r"target_loss: expected a loss the intact model reaches on hard; it reaches 0\.\d+"):
        MC.prune_mlp(untrained, CM.prune_data('easy_hard', 0), 'hard', target_loss=0.01, steps=5)


def test_check_and_meeting_bad_input(shipped):
    m = shipped['dense'].model
    with pytest.raises(TypeError, match=r"circuit: expected an MLPCircuit, got dict"):
        MC.check_mlp_circuit(m, {}, CM.capstone_data('easy_hard'), {})
    with pytest.raises(ValueError, match=r"means: expected the node means \(node_means\) to blend with, got None"):
        MC.forward_blend(m, CM.capstone_data('easy_hard', n=8)['x'], {'hidden.0.hook_post': torch.zeros(32)})
    with pytest.raises(ValueError, match=r"model: expected a cipher model \(46 inputs\), got 16 inputs"):
        C.meeting_nodes(m, shipped['dense'].circuits['easy'])


# --- what the measures mean ----------------------------------------------------------------------------------------

def test_eta_squared_is_the_squared_correlation_for_a_binary_label():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    a = np.stack([y + rng.normal(0, 1, 500), rng.normal(0, 1, 500), np.ones(500)], 1)
    e = C.eta_squared(a, y)
    assert abs(e[0] - np.corrcoef(a[:, 0], y)[0, 1] ** 2) < 1e-9
    assert e[1] < 0.02 and e[2] == 0.0


def test_ablation_importance_of_a_node_nothing_reads_is_zero(shipped):
    cm = shipped['sparse']
    d = CM.capstone_data('easy_hard', 0, n=400)
    means = MC.node_means(cm.model, CM.prune_data('easy_hard', 0))
    imp = C.ablation_importance(cm.model, d, means)
    W_next = [layer.linear.weight for layer in cm.model.hidden[1:]] + [cm.model.readout.weight]
    unread = np.concatenate([(W == 0).all(0).numpy() for W in W_next])      # columns of the next matrix all zero
    assert unread.any()
    for f in CM.OUTPUTS['easy_hard']:
        assert np.all(imp['loss'][f][unread] == 0) and np.all(imp['acc'][f][unread] == 0)
        assert imp['loss'][f].max() > 0.01


def test_circuit_is_sufficient_and_beats_its_random_control(shipped):
    cm = shipped['sparse']
    d = CM.capstone_data('easy_hard', 0)
    means = MC.node_means(cm.model, CM.prune_data('easy_hard', 0))
    check = MC.check_mlp_circuit(cm.model, cm.circuits['easy'], d, means)
    assert check['sufficient_loss'] <= 0.15
    assert check['necessary_acc'] < check['random_ablation_acc']
    dense_means = MC.node_means(shipped['dense'].model, CM.prune_data('easy_hard', 0))
    assert check['edges'] < MC.check_mlp_circuit(shipped['dense'].model, shipped['dense'].circuits['easy'], d,
                                                 dense_means)['edges']
    assert check['edges'] == MC.circuit_edges(cm.model, cm.circuits['easy'], d)


def test_circuit_json_round_trip(shipped):
    circuit = shipped['dense'].circuits['hard']
    back = MC.MLPCircuit.from_json(circuit.to_json())
    assert back.n_nodes == circuit.n_nodes
    assert all(torch.equal(back.masks[name], mask) for name, mask in circuit.masks.items())


def test_findings_are_well_formed():
    f = C.point_findings()
    for k in ('gap_dense', 'gap_sparse'):
        lo, hi = f[f'{k}_ci']
        assert lo <= f[k] <= hi
    assert f['seeds'] == list(CM.SEEDS) and f['accuracy_min'] >= 0.98
    assert set(f['circuits']) == {'easy_hard.easy', 'easy_hard.hard', 'cipher.sum'}
    for k, d in f['circuits'].items():
        assert d['dense']['edges'] > d['sparse']['edges'], k          # sparse wiring: fewer edges in every circuit
    assert f['cipher_meeting']['sparse']['probe_plain_s'] < 0.1      # the plaintext stays invisible
