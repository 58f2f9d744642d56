"Self-checks never raise on a student's answer; the reference solutions pass every exercise check; stubs fail."
import importlib.util, json, math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from sparse_tutor.exercises import checks as C
from sparse_tutor.exercises import lesson1 as E
from sparse_tutor.exercises import lesson2 as E2

ROOT = Path(__file__).resolve().parent.parent
SOL = ROOT / 'solutions'

def load(name):
    spec = importlib.util.spec_from_file_location(f"sol_{name}", SOL / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod

def boom(*a, **k): raise RuntimeError('student bug')

weird = st.one_of(
    st.none(), st.just(Ellipsis), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5), st.lists(st.floats(allow_nan=True), max_size=4), st.dictionaries(st.text(max_size=2), st.integers(), max_size=3),
    st.just(np.full((2, 3), np.nan)), st.just(torch.zeros(3, requires_grad=True)), st.just(boom), st.just(lambda *a: None),
    st.just(object()), st.just(np.zeros((0,))))

@settings(max_examples=150, deadline=None)
@given(answer=weird, expected=st.one_of(st.floats(-5, 5), st.just(np.arange(3.0)), st.just({'a': 1.0}), st.just(True), st.just('x')))
def test_check_never_raises(answer, expected):
    r = C.check('hyp', answer, expected, hint='h', quiet=True)
    assert isinstance(r, C.CheckResult) and isinstance(r.passed, bool) and isinstance(r.message, str)
    r = C.check('hyp call', answer, expected, args=(1, 2), quiet=True)
    assert isinstance(r.passed, bool)
    if not callable(answer): assert not r and 'expected a function' in r.message

@settings(max_examples=60, deadline=None)
@given(answer=weird)
def test_exercise_checks_never_raise(answer):
    for fn in (E.check_l1_variance_explained, E.check_l1_rsa, E.check_l1_keep_top_pcs, E2.check_l2_decrypt,
               E2.check_l2_rotation, E2.check_l2_ablate_hook):
        r = fn(answer, quiet=True)
        assert not r and r.message
    # also wrong *functions*: constant, raising, returning NaN
    for bad in (boom, lambda *a: float('nan'), lambda *a: np.zeros(3), lambda *a: 'text'):
        assert not E.check_l1_variance_explained(bad, quiet=True)

def test_messages_are_useful(capsys):
    r = C.check('shape', np.zeros(3), np.zeros(4), hint='one per unit')
    out = capsys.readouterr().out
    assert out.startswith('FAIL  shape: got shape (3,), expected shape (4,)') and 'hint: one per unit' in out
    r = C.check('raises', boom, 1.0, args=())
    assert 'your function raised RuntimeError: student bug' in r.message
    r = C.check('nan', float('nan'), 1.0)
    assert r.message == 'got NaN'
    assert C.check('tensor ok', torch.tensor([1.0, 2.0]), [1.0, 2.0])
    assert capsys.readouterr().out.count('PASS') == 1

def test_check_rejects_lesson_mistakes():
    "A lesson that passes neither expected nor validator (or both) is the author's bug, and says so."
    with pytest.raises(TypeError, match='exactly one'): C.check('x', 1)
    with pytest.raises(TypeError, match='exactly one'): C.check('x', 1, 1, validator=bool)

def test_solutions_pass_lesson1():
    s = load('01_what_analysis_sees')
    assert E.check_l1_variance_explained(s.my_variance_explained, quiet=True)
    assert E.check_l1_rsa(s.my_rsa, quiet=True)
    assert E.check_l1_keep_top_pcs(s.my_keep_top_pcs, quiet=True)
    r = E.check_l1_knobs(s.KNOBS, quiet=True)
    assert r, r.message

def test_solutions_pass_lesson2():
    s = load('02_computation_without_representation')
    assert E2.check_l2_decrypt(s.decrypt_sum, quiet=True)
    assert E2.check_l2_rotation(s.my_random_rotation, quiet=True)
    assert E2.check_l2_ablate_hook(s.mean_ablate_hook, quiet=True)

def test_plausible_wrong_answers_fail():
    s = load('01_what_analysis_sees')
    swapped = lambda a, y, tr, te: s.my_variance_explained(a, y, te, tr)
    assert not E.check_l1_variance_explained(swapped, quiet=True)
    from scipy.spatial.distance import pdist
    from scipy.stats import pearsonr
    pearson = lambda a, y: float(pearsonr(pdist(a), pdist(np.asarray(y, float)[:, None], 'hamming'))[0])
    r = E.check_l1_rsa(pearson, quiet=True)          # Pearson is not Spearman
    assert not r and r.message.startswith("that is Pearson's correlation")
    no_mean = lambda a, k: (a - a.mean(0)) @ np.linalg.svd(a - a.mean(0))[2][:k].T @ np.linalg.svd(a - a.mean(0))[2][:k]
    r = E.check_l1_keep_top_pcs(no_mean, quiet=True)
    assert not r and r.message.startswith('the mean is missing')
    r = E.check_l1_knobs(dict(init_scale=0.5), quiet=True)    # the default: the bias is still there
    assert not r and 'ratio' in r.message
    assert not E2.check_l2_decrypt(lambda c, ka, kb, p: c - ka - kb, quiet=True)
    def in_place(units, mean):
        def hook(act, name):
            act[:, units] = mean[units]
            return act
        return hook
    r = E2.check_l2_ablate_hook(in_place, quiet=True)
    assert not r and 'in place' in r.message

@pytest.mark.parametrize('lesson, names', [
    ('01_what_analysis_sees', ['my_variance_explained', 'my_rsa', 'my_keep_top_pcs', 'KNOBS']),
    ('02_computation_without_representation', ['decrypt_sum', 'my_random_rotation', 'mean_ablate_hook'])])
def test_lessons_have_stubs_matching_the_solutions(lesson, names):
    nb = json.loads((ROOT / 'nbs' / 'lessons' / f'{lesson}.ipynb').read_text())
    code = '\n'.join(''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'code')
    sol = load(lesson)
    for n in names:
        assert hasattr(sol, n), n
        assert f'def {n}(' in code or f'{n} = None' in code, f'the lesson has no stub for {n}'
    assert 'solutions' not in code, 'a lesson must not import its solutions'
    assert code.count('YOUR ') >= 3
