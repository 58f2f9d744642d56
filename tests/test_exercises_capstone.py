"""Lesson 7 (does weight sparsity close the detection gap?): the exercise checks pass the reference solutions, fail
stubs and plausible wrong answers, never raise, and judge the reading against the measured interval."""
import importlib.util, json
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import pearsonr

from sparse_tutor.experiments import capstone
from sparse_tutor.experiments.capstone_models import capstone_models
from sparse_tutor.exercises import lesson7 as X

ROOT = Path(__file__).resolve().parent.parent
SOL = ROOT / 'solutions' / '07_does_sparsity_close_the_gap.py'
LESSON = ROOT / 'nbs' / 'lessons' / '07_does_sparsity_close_the_gap.ipynb'
CHECKS = (X.check_l7_eta_squared, X.check_l7_gap, X.check_l7_probe_scores)


def _tracked(path: Path) -> Path:
    assert path.is_file(), f"the tracked file {path} is missing"
    return path


def _solutions():
    _tracked(SOL)
    spec = importlib.util.spec_from_file_location('sol07', SOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope='module')
def findings():
    torch.set_num_threads(1)
    return capstone.point_findings()


def test_solutions_pass_and_stubs_fail():
    sol = _solutions()
    assert X.check_l7_eta_squared(sol.eta2, quiet=True)
    assert X.check_l7_gap(sol.gap, quiet=True)
    assert X.check_l7_probe_scores(sol.probe_rank, quiet=True)
    for chk in CHECKS:
        r = chk(lambda *a: None, quiet=True)
        assert not r and 'no answer yet' in r.message
    assert not X.check_l7_reading(None, {'pooled': {'sparse_minus_dense_ci': [-1, 1]}}, quiet=True)
    r = X.check_l7_conclusion(None, quiet=True)
    assert not r and 'no conclusion yet' in r.message


def test_plausible_wrong_answers_fail():
    sol = _solutions()
    r = X.check_l7_gap(lambda s, i, alive: sol.gap(s, i, np.ones(len(s), bool)), quiet=True)      # dead nodes kept
    assert not r and 'the dead nodes are still in' in r.message and '2: 12 dead nodes to leave out' in r.hint
    r = X.check_l7_gap(lambda s, i, alive: 1 - pearsonr(s[alive], i[alive]).statistic, quiet=True)   # Pearson
    assert not r
    assert not X.check_l7_gap(lambda s, i, alive: 1 - sol.gap(s, i, alive), quiet=True)          # Spearman itself
    def unweighted(a, y):                                       # every class weighs the same, whatever its size
        b = np.mean([(a[y == c].mean(0) - a.mean(0)) ** 2 for c in np.unique(y)], 0)
        return np.where(a.var(0) > 0, b / np.where(a.var(0) > 0, a.var(0), 1), 0.0)
    r = X.check_l7_eta_squared(unweighted, quiet=True)
    assert not r and 'every class weighs the same here' in r.message
    from sklearn.linear_model import RidgeClassifier
    raw = lambda a, y: np.abs(RidgeClassifier(alpha=1.0).fit(a, y).coef_).sum(0) * (a.std(0) > 1e-6)   # not standardised
    assert not X.check_l7_probe_scores(raw, quiet=True)
    r = X.check_l7_probe_scores(lambda a, y: X._unstandardised(a, y), quiet=True)
    assert not r and 'the columns were not standardised' in r.message
    def summed_over_nodes(a, y):                                # two classes: coef_ is [d], so .sum(0) adds up the nodes
        z = (a - a.mean(0)) / np.where(a.std(0) > 1e-6, a.std(0), 1.0)
        return np.abs(RidgeClassifier(alpha=1.0).fit(z, y).coef_).sum(0) * (a.std(0) > 1e-6)
    r = X.check_l7_probe_scores(summed_over_nodes, quiet=True)
    assert not r and 'with two classes coef_ is a single weight vector' in r.message and '1: binary labels' in r.hint
    r = X.check_l7_gap(lambda s, i, alive: 1 - pearsonr(s[alive], i[alive]).statistic, quiet=True)
    assert not r and "Pearson's correlation" in r.message
    r = X.check_l7_gap(lambda s, i, alive: 1 - sol.gap(s, i, alive), quiet=True)
    assert not r and 'the Spearman correlation itself' in r.message


def test_library_probe_scores_are_per_node_for_two_classes():
    "For binary labels sklearn's RidgeClassifier.coef_ is one vector [d]: the scores must still differ node by node."
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    a = np.stack([y + rng.normal(0, 0.5, 200), rng.normal(0, 1, 200), np.zeros(200)], 1)
    s = capstone.probe_scores(a, y)
    assert s.shape == (3,) and s[0] > 5 * s[1] and s[2] == 0, s


@pytest.mark.parametrize('answer', [None, 3, 'x', lambda *a: 1 / 0, lambda *a: 'text', lambda *a: np.full(3, np.nan),
                                    lambda *a: {'a': 1}, object(), lambda *a: torch.zeros(2)])
def test_checks_never_raise(answer):
    for chk in CHECKS:
        r = chk(answer, quiet=True)
        assert not r and isinstance(r.message, str) and r.message
    for summary in ({'pooled': {'sparse_minus_dense_ci': [-0.1, 0.1]}}, None, {'pooled': 3}):
        assert not X.check_l7_reading(answer, summary, quiet=True)
    assert not X.check_l7_conclusion(answer, quiet=True)


def test_reading_follows_the_interval_not_a_fixed_answer():
    cases = {'sparse smaller': [-0.3, -0.01], 'no clear difference': [-0.2, 0.0], 'sparse larger': [0.001, 0.4]}
    for truth, ci in cases.items():
        for form in ({'pooled': {'sparse_minus_dense_ci': ci}}, {'gap_sparse_minus_dense_ci': tuple(ci)}):
            for a in X.READINGS:
                r = X.check_l7_reading(a, form, quiet=True)
                assert bool(r) == (a == truth), (a, form, r)
    class Str(str): pass
    assert not X.check_l7_reading(Str('sparse smaller'), {'gap_sparse_minus_dense_ci': [-1, -0.5]}, quiet=True)


def test_conclusion_says_what_is_missing(capsys):
    r = X.check_l7_conclusion('the sparse ones', quiet=True)
    assert not r and 'at least 150' in r.message and "'dense'" in r.message and 'number' in r.message
    text = 'Dense and sparse models: ' + 'the pooled detection gaps do not differ clearly ' * 3 + 'at 0.96 against 0.99.'
    r = X.check_l7_conclusion(text)
    out = capsys.readouterr().out
    assert r and 'yours to argue' in r.message and out.startswith('NOT GRADED  L7 ex 5') and 'PASS' not in out


def test_solution_reading_and_conclusion_from_the_measured_table(findings):
    sol = _solutions()
    summary = capstone.summarise_gaps(capstone.capstone_table(capstone_models()))
    reading = sol.reading(summary)
    assert reading == sol.reading(findings)
    assert X.check_l7_reading(reading, summary, quiet=True) and X.check_l7_reading(reading, findings, quiet=True)
    others = [a for a in X.READINGS if a != reading]
    assert not any(X.check_l7_reading(a, summary, quiet=True) for a in others)
    text = sol.conclusion(findings)
    assert X.check_l7_conclusion(text, quiet=True)
    assert f"{findings['gap_dense']:.2f}" in text and f"{findings['gap_sparse']:.2f}" in text


def test_lesson_calls_every_check():
    nb = json.loads(_tracked(LESSON).read_text())
    code = '\n'.join(''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'code')
    for name in ('check_l7_eta_squared', 'check_l7_gap', 'check_l7_probe_scores', 'check_l7_trend', 'check_l7_conclusion'):
        assert f'{name}(' in code, f'the lesson never calls {name}'
    assert 'solutions' not in code, 'a lesson must not import its solutions'


def test_reading_rejects_a_summary_without_two_finite_numbers():
    for summary in ({'gap_sparse_minus_dense_ci': [10 ** 400, 1]}, {'pooled': {'sparse_minus_dense_ci': ['-1', '1']}},
                    {'gap_sparse_minus_dense_ci': np.array([[-1.0, 1.0]])}, {'gap_sparse_minus_dense_ci': [True, 1]},
                    {'gap_sparse_minus_dense_ci': [0.2, -0.1]}):
        r = X.check_l7_reading('no clear difference', summary, quiet=True)
        assert not r and r.message.startswith('summary: expected'), (summary, r)
    assert X.check_l7_reading('no clear difference', {'gap_sparse_minus_dense_ci': np.array([-1, 1])}, quiet=True)


def test_the_grid_reading_follows_the_measured_dose_response():
    "Exercise 4 reads the grid: the solution's reading passes on the shipped grid, every other reading of a task fails."
    from sparse_tutor.experiments.capstone_grid import grid_findings
    found = grid_findings()
    sol = _solutions()
    right = sol.trend(found)
    assert set(right) == {'easy_hard', 'cipher'} and X.check_l7_trend(right, found, quiet=True)
    for task in right:
        for other in X.TRENDS:
            if other != right[task]:
                r = X.check_l7_trend({**right, task: other}, found, quiet=True)
                assert not r and f"{task}: you read {other!r}" in r.message
