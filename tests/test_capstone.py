"""Lesson 7 (the capstone): the training recipe reproduces the shipped models, pruning and the checks behave on every
kind of bad input with a clear message, the detection gap means what the lesson says, and the findings are
well-formed."""
import numpy as np
import pytest
import torch

from sparse_tutor.experiments import capstone as C
from sparse_tutor.core.models import MLP, MLPConfig


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope='module')
def shipped():
    return {v: C.load_capstone('easy_hard', v, 0) for v in C.VARIANTS}


# --- the recipe and the shipped files ---------------------------------------------------------------------------

@pytest.mark.parametrize('task', C.CAPSTONE_TASKS)
def test_retrain_reproduces_the_shipped_sparse_model(task):
    fresh, _ = C.train_capstone(task, 'sparse', 0)
    shipped = C.load_capstone(task, 'sparse', 0).model
    for (n, a), (_, b) in zip(fresh.state_dict().items(), shipped.state_dict().items()):
        assert torch.equal(a, b), n


def test_every_shipped_model_solves_its_task_and_has_its_density():
    for t in C.CAPSTONE_TASKS:
        for v in C.VARIANTS:
            for s in C.SEEDS:
                cm = C.load_capstone(t, v, s)
                d = C.capstone_data(t, s)
                with torch.no_grad(): acc = C.feature_accuracy(C.forward_blend(cm.model, d['x']), d)
                assert min(acc.values()) >= 0.98, (t, v, s, acc)
                dens = [float((l.linear.weight != 0).float().mean()) for l in cm.model.hidden]
                if v == 'sparse': assert max(dens) <= C.DENSITY + 0.01, dens
                else: assert min(dens) > 0.99, dens
                assert set(cm.circuits) == set(C.OUTPUTS[t])


def test_ship_round_trip(tmp_path, monkeypatch):
    monkeypatch.setattr(C, 'CAPSTONE_TASKS', ('easy_hard',))
    rep = C.ship_capstone(seeds=(3,), out_dir=tmp_path, progress=False)
    assert len(rep) == 2
    for v in C.VARIANTS:
        a, b = C.load_capstone('easy_hard', v, 3, root=tmp_path), C.load_capstone('easy_hard', v, 3)
        for f in C.OUTPUTS['easy_hard']:
            assert torch.equal(torch.cat(list(a.circuits[f].masks.values())), torch.cat(list(b.circuits[f].masks.values())))


def test_missing_checkpoint_says_how_to_make_it(tmp_path):
    with pytest.raises(ValueError, match=r"seed: no shipped lesson-7 checkpoint .*ship_capstone"):
        C.load_capstone('cipher', 'dense', 0, root=tmp_path)


# --- bad input ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('call, exc, msg', [
    (lambda: C.capstone_data('xor'), ValueError, r"task: expected one of \('easy_hard', 'cipher'\), got 'xor'"),
    (lambda: C.capstone_data('cipher', seed=-1), ValueError, r"seed: expected an int >= 0, got -1"),
    (lambda: C.capstone_data('cipher', split='val'), ValueError, r"split: expected 'train' or 'test', got 'val'"),
    (lambda: C.capstone_data('cipher', n=3), ValueError, r"n: expected an int >= 8, got 3"),
    (lambda: C.capstone_recipe('cipher', 'medium'), ValueError, r"variant: expected one of \('dense', 'sparse'\), got 'medium'"),
    (lambda: C.load_capstone('cipher', 'dense', 1.5), ValueError, r"seed: expected an int >= 0, got 1.5"),
    (lambda: C.capstone_models(retrain='yes'), TypeError, r"retrain: expected True or False, got 'yes'"),
    (lambda: C.capstone_models(seeds=3), ValueError, r"seeds: expected a non-empty sequence"),
    (lambda: C.capstone_table([]), TypeError, r"models: expected the dict"),
    (lambda: C.summarise_gaps([]), TypeError, r"reports: expected a non-empty list"),
    (lambda: C.summarise_gaps([{'gap': 1.0}], measure='pearson'), ValueError, r"measure: expected 'gap' or 'probe_gap', got 'pearson'"),
    (lambda: C.model_report('model'), TypeError, r"cm: expected a CapstoneModel"),
    (lambda: C.detection_gap([1, 2], [1, 2, 3]), ValueError, r"score, importance: expected two 1-D arrays of one length"),
    (lambda: C.detection_gap([1, 2, 3], [1, 2, 3], alive=[1, 0, 0]), ValueError, r"alive: expected at least 3 live nodes"),
    (lambda: C.detection_gap([1, 2, 3], [1, 2, 3], alive=[1, 1]), ValueError, r"alive: expected a bool array of shape \(3,\)"),
    (lambda: C.eta_squared(np.zeros((4, 2)), [0, 1]), ValueError, r"acts, labels: expected \[n, d\] and \[n\]"),
    (lambda: C.probe_scores(np.random.rand(6, 2), [1] * 6), ValueError, r"labels: expected at least 2 classes, got 1"),
    (lambda: C.layer_names(torch.nn.Linear(2, 2)), TypeError, r"model: expected a sparse_tutor MLP, got Linear"),
])
def test_bad_input_is_named(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


def test_prune_bad_input(shipped):
    m, d = shipped['sparse'].model, C.prune_data('easy_hard', 0)
    with pytest.raises(ValueError, match=r"feature: expected one of \('easy', 'hard'\) for the easy_hard task, got 'sum'"):
        C.prune_mlp(m, d, 'sum')
    with pytest.raises(TypeError, match=r"data: expected a dict from capstone_data"):
        C.prune_mlp(m, {'x': d['x']}, 'easy')
    for k, v, msg in (('target_loss', 0, r"target_loss: expected a finite number > 0, got 0"),
                      ('lam', float('nan'), r"lam: expected a finite number >= 0, got nan"),
                      ('steps', 0, r"steps: expected an int in \[1, 100000\], got 0"),
                      ('lr', 'fast', r"lr: expected a finite number > 0, got 'fast'")):
        with pytest.raises(ValueError, match=msg):
            C.prune_mlp(m, d, 'easy', **{k: v})
    with pytest.raises(ValueError, match=r"lams: expected a non-empty sequence"):
        C.sweep_prune_mlp(m, d, 'easy', lams=())


def test_unreachable_target_is_a_clear_error_not_a_hang():
    untrained = C.capstone_model('easy_hard')          # its loss is about log 2 = 0.69
    with pytest.raises(ValueError, match=r"target_loss: expected a loss the intact model reaches on hard; it reaches 0\.\d+"):
        C.prune_mlp(untrained, C.prune_data('easy_hard', 0), 'hard', target_loss=0.01, steps=5)


def test_check_and_meeting_bad_input(shipped):
    m = shipped['dense'].model
    with pytest.raises(TypeError, match=r"circuit: expected an MLPCircuit, got dict"):
        C.check_mlp_circuit(m, {}, C.capstone_data('easy_hard'), {})
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
    d = C.capstone_data('easy_hard', 0, n=400)
    means = C.node_means(cm.model, C.prune_data('easy_hard', 0))
    imp = C.ablation_importance(cm.model, d, means)
    W_next = [l.linear.weight for l in cm.model.hidden[1:]] + [cm.model.readout.weight]
    unread = np.concatenate([(w == 0).all(0).numpy() for w in W_next])      # columns of the next matrix all zero
    assert unread.any()
    for f in C.OUTPUTS['easy_hard']:
        assert np.all(imp['loss'][f][unread] == 0) and np.all(imp['acc'][f][unread] == 0)
        assert imp['loss'][f].max() > 0.01


def test_circuit_is_sufficient_and_beats_its_random_control(shipped):
    cm = shipped['sparse']
    d = C.capstone_data('easy_hard', 0)
    means = C.node_means(cm.model, C.prune_data('easy_hard', 0))
    r = C.check_mlp_circuit(cm.model, cm.circuits['easy'], d, means)
    assert r['sufficient_loss'] <= 0.15
    assert r['necessary_acc'] < r['random_ablation_acc']
    assert r['edges'] < C.check_mlp_circuit(shipped['dense'].model, shipped['dense'].circuits['easy'], d,
                                            C.node_means(shipped['dense'].model, C.prune_data('easy_hard', 0)))['edges']


def test_circuit_json_round_trip(shipped):
    c = shipped['dense'].circuits['hard']
    back = C.MLPCircuit.from_json(c.to_json())
    assert back.n_nodes == c.n_nodes and all(torch.equal(back.masks[l], c.masks[l]) for l in c.masks)


def test_findings_are_well_formed():
    f = C.lesson07_findings()
    for k in ('gap_dense', 'gap_sparse'):
        lo, hi = f[f'{k}_ci']
        assert 0 <= lo <= f[k] <= hi <= 2
    assert f['seeds'] == list(C.SEEDS) and f['accuracy_min'] >= 0.98
    assert set(f['circuits']) == {'easy_hard.easy', 'easy_hard.hard', 'cipher.sum'}
    for k, d in f['circuits'].items():
        assert d['dense']['edges'] > d['sparse']['edges'], k          # sparse wiring: fewer edges in every circuit
    assert f['cipher_meeting']['sparse']['probe_plain_s'] < 0.1      # the plaintext stays invisible
