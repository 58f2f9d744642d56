"""Lesson 6 (sparsity as a signal): the ICL recipe at reduced size, so it cannot rot; clear errors on bad input;
the exercise checks pass the reference solutions, fail stubs and never raise; the findings are well-formed."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from sparse_tutor.experiments import icl, icl_episodes as episodes
from sparse_tutor.exercises import lesson6 as X
from sparse_tutor.core.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parent.parent
SOL = ROOT / 'solutions' / '06_sparsity_as_a_signal.py'


@pytest.fixture(scope='module')
def small_model():
    torch.set_num_threads(1)
    return icl.train_icl_model(seed=0, steps=700, n_train=20_000, progress=False)   # about a minute on one core


def test_recipe_reduced(small_model):
    model, hist = small_model
    assert hist['loss'][-1] < 0.6 * hist['loss'][0], hist['loss']      # the in-context copying has formed
    assert model.cfg.n_ctx == episodes.N_CTX and model.cfg.vocab_size == len(episodes.ICL_VOCAB)


def test_comparison_well_formed(small_model):
    model, _ = small_model
    es = episodes.make_eval_set(40, seed=5)
    cmp = icl.run_comparison({0: model, 1: model}, es)
    s = icl.method_summary(cmp, n_resamples=200)
    assert set(s) == set(icl.METHODS)
    for m in icl.METHODS:
        assert cmp.exact[m].shape == (2, 40) and cmp.idx[m].shape == (2, 40, episodes.N_DEMOS)
        assert all(len(set(row)) == episodes.N_DEMOS for row in cmp.idx[m][0])          # no demonstration twice
        assert s[m]['acc_ci'][0] <= s[m]['acc'] <= s[m]['acc_ci'][1]
    # SG-ICL picks at the query's level and the one below (true-level variant: exactly)
    lv = es.pool_levels
    for i, q in enumerate(es.query_levels):
        got = set(lv[i, cmp.idx['sgicl_true_levels'][0, i]].tolist())
        assert got <= ({q, q - 1} if q > 1 else {1, 2})
    assert s['overlap']['symbol_acc'] > 2 / episodes.N_SYMBOLS                 # reads the rule from its demonstrations
    sp = icl.difficulty_spearman(cmp, n_resamples=200)
    assert np.isclose(sp['pooled'], sp['per_seed'][0])          # two seeds of one model pool to that model's value
    assert sp['pooled_ci'][0] <= sp['pooled'] <= sp['pooled_ci'][1]
    assert icl.grading_agreement(cmp) == (cmp.pool_grade[0] == es.pool_levels).mean()


def test_ship_writes_loadable_checkpoints(tmp_path):
    torch.set_num_threads(1)
    report = icl.ship_icl_models(seeds=(7,), out_dir=tmp_path, steps=10, progress=False)
    path = icl.icl_checkpoint_path(7, tmp_path)
    assert path.is_file() and path.stat().st_size < 1_000_000 and report['seed7']['path'] == str(path)
    ck = load_checkpoint(path, kind='transformer')
    assert ck.meta == {'lesson': 'lesson06', 'seed': 7} and ck.history['step'][-1] == 10
    assert icl.load_icl_model(7, root=tmp_path).model.cfg.n_ctx == episodes.N_CTX


def test_shipped_checkpoints_small():
    files = [icl.icl_checkpoint_path(seed) for seed in icl.ICL_SEEDS]
    missing = [str(path) for path in files if not path.is_file()]
    assert not missing, f"shipped lesson-6 checkpoints missing (make them with `sparse-tutor ship-icl`): {missing}"
    assert sum(f.stat().st_size for f in files) < 3_000_000
    assert not list(icl.ICL_DIR.glob('*.pt'))


def test_bad_inputs():
    es = episodes.make_eval_set(4, seed=0)
    with pytest.raises(ValueError, match='n: expected an int'): episodes.sample_episodes(0)
    with pytest.raises(TypeError, match='n: expected an int'): episodes.sample_episodes(2.5)
    with pytest.raises(ValueError, match='seed: expected an int'): episodes.sample_episodes(3, seed=-1)
    with pytest.raises(ValueError, match='n_queries: expected'): episodes.make_eval_set(0)
    with pytest.raises(ValueError, match='per_level: expected an int'): episodes.make_eval_set(4, per_level=0)
    with pytest.raises(ValueError, match='levels: expected lengths'): episodes.random_items(np.array([0, 5]), np.random.default_rng(0))
    with pytest.raises(ValueError, match='demo_x: expected shape'): episodes.prompt_tokens(np.zeros((2, 3)), np.zeros((2, 4)), es.rules[:2])
    with pytest.raises(ValueError, match='query_x: expected shape'):
        episodes.prompt_tokens(np.zeros((2, 1, 4), int), np.zeros((3, 4), int), es.rules[:2])
    with pytest.raises(ValueError, match='steps: expected'): icl.train_icl_model(steps=0)
    with pytest.raises(TypeError, match='seeds: expected a sequence'): icl.ship_icl_models(seeds=3)
    with pytest.raises(ValueError, match='icl_seed99.safetensors; make it with `sparse-tutor ship-icl --seeds 99`'):
        icl.load_icl_model(99)
    with pytest.raises(TypeError, match='model: expected a sparse_tutor Transformer'): icl.item_sparsity('gpt', es.query_x)
    from sparse_tutor.core.models import Transformer, TransformerConfig
    other = Transformer(TransformerConfig(vocab_size=5))
    with pytest.raises(ValueError, match='model: expected a lesson-6 model'): icl.item_sparsity(other, es.query_x)
    with pytest.raises(ValueError, match='idx: expected pool indices'): episodes.chosen_demos(es, np.full((4, 2), 99))
    with pytest.raises(ValueError, match='idx: expected an int array'): episodes.chosen_demos(es, np.zeros((3, 2), int))
    with pytest.raises(ValueError, match='query_score: expected shape'): icl.grade_levels(np.zeros((3, 8)), np.zeros(2))
    with pytest.raises(ValueError, match='pool_score: expected a finite'): icl.grade_levels(np.full((3, 8), np.nan), np.zeros(3))
    with pytest.raises(ValueError, match='n_levels: expected'): icl.grade_levels(np.zeros((3, 8)), np.zeros(3), 0)
    with pytest.raises(ValueError, match=r'k: expected an int in \[1, 4\], got 9'): icl.select_random(3, 16, k=9)
    with pytest.raises(ValueError, match='pool_levels: expected the shape'): icl.select_sgicl(np.ones((2, 8)), np.ones((2, 7)), np.ones(2))
    with pytest.raises(ValueError, match='pool_emb, query_emb'): icl.select_similar(np.zeros((2, 8)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match='pool_x, query_x'): icl.select_overlap(es.pool_x, es.query_x[:2])
    with pytest.raises(TypeError, match='models: expected a non-empty dict'): icl.run_comparison([], es)
    with pytest.raises(ValueError, match='models: expected a non-empty dict'): icl.run_comparison({}, es)
    with pytest.raises(TypeError, match='es: expected an ICLEvalSet'): icl.run_comparison({0: None}, 'pool')
    with pytest.raises(TypeError, match='quick: expected True or False'): icl.lesson06_findings(quick='yes')


def _solutions():
    spec = importlib.util.spec_from_file_location('sol06', SOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_solutions_pass_and_stubs_fail():
    sol = _solutions()
    assert X.check_l6_coverage(sol.my_coverage, quiet=True)
    assert X.check_l6_quantile_levels(sol.quantile_levels, quiet=True)
    assert X.check_l6_candidates(sol.sgicl_candidates, quiet=True)
    assert X.check_l6_nearest(sol.nearest, quiet=True)
    stub = lambda *a: None
    for chk in (X.check_l6_coverage, X.check_l6_quantile_levels, X.check_l6_candidates, X.check_l6_nearest):
        r = chk(stub, quiet=True)
        assert not r and 'no answer yet' in r.message


@pytest.mark.parametrize('answer', [None, 3, 'x', lambda *a: 1 / 0, lambda *a: 'text', lambda *a: np.full(3, np.nan),
                                    lambda *a: {'a': 1}, object()])
def test_checks_never_raise(answer):
    for chk in (X.check_l6_coverage, X.check_l6_quantile_levels, X.check_l6_candidates, X.check_l6_nearest):
        r = chk(answer, quiet=True)
        assert not r and isinstance(r.message, str)
    summ = {'sgicl': {'acc': .5}, 'random': {'acc': .6}}
    assert not X.check_l6_best(answer, summ, quiet=True)


def test_findings_well_formed():
    torch.set_num_threads(1)
    f = icl.lesson06_findings(quick=True)
    for k in ('sgicl_acc', 'random_acc', 'similarity_acc', 'n_queries', 'seeds', 'difficulty_spearman'):
        assert k in f
    assert f['n_queries'] >= 200 and f['seeds'] == [0, 1, 2]
    for k in ('sgicl', 'random', 'similarity'):
        assert isinstance(f[f'{k}_acc'], float) and f[f'{k}_acc_ci'][0] <= f[f'{k}_acc'] <= f[f'{k}_acc_ci'][1]
