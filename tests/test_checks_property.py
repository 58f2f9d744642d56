"""The in-lesson self-checks never crash on a student's answer. Hypothesis feeds every `check_*` function of
sparse_tutor.exercises.checks and of every lesson's module (sparse_tutor.exercises.lesson1 ... lesson7)
wrong types, wrong shapes, NaNs, huge numbers, objects that misbehave when printed or compared, and functions that raise or return
nonsense: each must return a failed CheckResult with a message, never raise. (A student pressing stop, KeyboardInterrupt, is meant to get through.)"""
import inspect

import numpy as np
import pytest
import torch
from hypothesis import given, settings, HealthCheck, strategies as st

from sparse_tutor.exercises import checks as C
from sparse_tutor.exercises import lesson1 as E
from sparse_tutor.exercises import lesson2 as E2
from sparse_tutor.exercises import lesson3 as E3
from sparse_tutor.exercises import lesson4 as EC
from sparse_tutor.exercises import lesson5 as EA
from sparse_tutor.exercises import lesson6 as EI
from sparse_tutor.exercises import lesson7 as EK
from sparse_tutor.exercises.checks import CheckResult

class Unprintable:
    "An answer whose repr, str, equality, truth and array conversion all raise."
    def __repr__(self): raise RuntimeError('repr exploded')
    __str__ = __repr__
    def __eq__(self, other): raise RuntimeError('eq exploded')
    def __bool__(self): raise RuntimeError('bool exploded')
    def __array__(self, *a, **k): raise RuntimeError('array exploded')
    def __len__(self): raise RuntimeError('len exploded')
    __hash__ = object.__hash__

class UnprintableError(Exception):
    "An exception whose message itself raises when formatted."
    def __str__(self): raise RuntimeError('str of the exception exploded')

def raiser(exc):
    def f(*a, **k): raise exc
    f.__name__ = f"raises_{type(exc).__name__}"
    return f

def returner(value):
    def f(*a, **k): return value
    return f

values = st.one_of(
    st.none(), st.just(Ellipsis), st.booleans(), st.integers(), st.just(10 ** 400), st.just(-10 ** 400),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6), st.binary(max_size=4), st.complex_numbers(),
    st.lists(st.one_of(st.floats(allow_nan=True), st.text(max_size=2)), max_size=4),
    st.dictionaries(st.text(max_size=3), st.one_of(st.integers(), st.floats(allow_nan=True)), max_size=3),
    st.sampled_from([np.full((2, 3), np.nan), np.zeros((0,)), np.zeros((3, 0)), np.ones((7, 7, 7)), np.array(['a', 'b']),
                     np.array([object(), None], dtype=object), np.array(np.inf), np.arange(5)]),
    st.sampled_from([torch.zeros(3, requires_grad=True), torch.full((4, 4), float('nan')), torch.zeros(2, 3, dtype=torch.long),
                     torch.ones(1, 1, 1, 1), torch.tensor(True), torch.empty(0)]),
    st.builds(Unprintable), st.just(object()), st.just(int), st.just(print))
exceptions = st.sampled_from([RuntimeError('student bug'), ValueError('bad'), TypeError('wrong type'), ZeroDivisionError(),
                              IndexError('index 99 is out of bounds'), KeyError('key'), AttributeError('attr'),
                              NotImplementedError(), AssertionError(), StopIteration(), RecursionError(),
                              MemoryError(), OverflowError(), UnprintableError(), FloatingPointError()])
callables = st.one_of(exceptions.map(raiser), values.map(returner), st.just(lambda: None), st.just(lambda x: x),
                      st.just(lambda *a: (yield 1)), st.just(returner(returner(1.0))), st.just(returner(raiser(ValueError('inner')))),
                      st.just(returner(Unprintable())), st.just(returner(float('nan'))), st.just(returner(np.full(3, np.nan))))
answers = st.one_of(values, callables)

MODULES = (C, E, E2, E3, EC, EA, EI, EK)

def _check_functions():
    fns = {}
    for mod in MODULES:
        for name, fn in vars(mod).items():
            if name.startswith('check') and inspect.isfunction(fn) and fn.__module__ == mod.__name__: fns[f"{mod.__name__}.{name}"] = fn
    return fns

FUNCS = _check_functions()
FAST = {k: f for k, f in FUNCS.items() if not k.endswith(('check_l1_knobs', 'check_l4_key_node', 'check_l6_best', 'check_l7_reading', 'check_l7_trend', '.check', '.check_cases'))}

def test_every_exercise_module_is_covered():
    import pkgutil, sparse_tutor.exercises as package
    assert {info.name for info in pkgutil.iter_modules(package.__path__)} == {mod.__name__.rsplit('.', 1)[1] for mod in MODULES}

def test_every_self_check_is_covered():
    names = {k.rsplit('.', 1)[1] for k in FUNCS}
    assert {'check', 'check_cases', 'check_l1_variance_explained', 'check_l1_knobs', 'check_l2_ablate_hook',
            'check_l3_density', 'check_l4_key_node', 'check_l5_topk_energy', 'check_l5_gap_ci', 'check_l6_coverage',
            'check_l6_best', 'check_l7_eta_squared', 'check_l7_gap', 'check_l7_probe_scores', 'check_l7_reading',
            'check_l7_conclusion'} <= names, sorted(names)
    assert len(FUNCS) >= 23

def _assert_failed(r, who):
    assert isinstance(r, CheckResult), f"{who} returned {type(r).__name__}, not a CheckResult"
    assert r.passed is False, f"{who} passed a nonsense answer"
    assert isinstance(r.message, str) and r.message, f"{who} failed without saying why"
    str(r)                                                        # printing the result never raises either

@pytest.mark.parametrize('name', sorted(FAST))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answer=answers)
def test_exercise_checks_report_and_never_raise(name, answer):
    _assert_failed(FAST[name](answer, quiet=True), name)

@settings(max_examples=80, deadline=None)
@given(answer=answers, expected=st.sampled_from([1.0, 3, np.arange(3.0), [1.0, 2.0], {'a': 1.0, 'b': np.zeros(2)}, True, 'x', None]),
       call=st.booleans())
def test_check_never_raises(answer, expected, call):
    r = C.check('property', answer, expected, hint='h', quiet=True, **({'args': (1, 2)} if call else {}))
    assert isinstance(r, CheckResult) and isinstance(r.passed, bool) and isinstance(r.message, str)
    str(r)
    r = C.check('validator', answer, validator=lambda a: (np.asarray(a).shape == (3,), 'shape'), quiet=True)
    assert isinstance(r, CheckResult) and isinstance(r.passed, bool)

@settings(max_examples=80, deadline=None)
@given(fn=answers)
def test_check_cases_never_raises(fn):
    r = C.check_cases('property cases', fn, [((1, 2), 3.0), ((np.zeros(2),), np.zeros(2)), (0, {'k': 1})], quiet=True)
    _assert_failed(r, 'check_cases')

@settings(max_examples=25, deadline=None)
@given(knobs=st.one_of(values, callables, st.dictionaries(st.sampled_from(['init_scale', 'width', 'lr', 'color']),
                                                          st.one_of(st.just(-1), st.just(0), st.just(float('nan')), st.text(max_size=2),
                                                                    st.just(None), st.just(10 ** 9)), min_size=1, max_size=2)))
def test_knobs_check_never_raises(knobs):
    "The one check that trains a network: bad knob values (negative, NaN, text, huge) are reported, not raised."
    _assert_failed(E.check_l1_knobs(knobs, quiet=True), 'check_l1_knobs')

@pytest.fixture(scope='module')
def sliders():
    from sparse_tutor.core.pretrained import load_pretrained
    from sparse_tutor.experiments.tracing import load_circuit
    from sparse_tutor.widgets.ablation_sliders import AblationSliders
    return AblationSliders(load_pretrained('sparse').model, load_circuit('sparse', 'single_double_quote'), prompt=0)

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(node=st.one_of(values, callables, st.sampled_from(['L0.v[3]', 'L9.mlp[0]', 'L0.v[', 'L0.v[-1]', 'L0.v[99999]', '', 'mlp', 'L0.q[x]'])),
       bad_sliders=st.one_of(st.none(), st.just(object()), st.builds(Unprintable), st.just(42)))
def test_key_node_check_never_raises(sliders, node, bad_sliders):
    r = EC.check_l4_key_node(node, sliders, quiet=True)
    assert isinstance(r, CheckResult) and isinstance(r.passed, bool) and r.message
    if not isinstance(node, str): assert not r.passed
    _assert_failed(EC.check_l4_key_node('L0.v[3]', bad_sliders, quiet=True), 'check_l4_key_node with a broken sliders object')

@settings(max_examples=60, deadline=None)
@given(answer=st.one_of(values, callables, st.sampled_from(['random', 'sgicl', 'nonsense', ''])),
       summary=st.one_of(values, st.just({'random': {'acc': 0.5}, 'sgicl': {'acc': 0.7}}),
                         st.just({'random': {'acc': float('nan')}, 'sgicl': {}}), st.just({'random': None})))
def test_best_method_check_never_raises(answer, summary):
    "Lesson 6's `check_l6_best(answer, summary)`: a wrong answer or a broken results table is reported, not raised."
    r = EI.check_l6_best(answer, summary, quiet=True)
    assert isinstance(r, CheckResult) and isinstance(r.passed, bool) and r.message
    str(r)
    if not (isinstance(answer, str) and answer == 'sgicl'): assert not r.passed


@settings(max_examples=60, deadline=None)
@given(answer=st.one_of(values, callables, st.just({'bracket_counting': 'rises'})),
       findings=st.one_of(values, st.just({'dose': None}), st.just({'circuits': {}})))
def test_trend_check_never_raises(answer, findings):
    "Lesson 7's `check_l7_trend(answer, findings)`: a wrong answer or broken findings are reported, not raised."
    _assert_failed(EK.check_l7_trend(answer, findings, quiet=True), 'check_l7_trend')


def test_an_answer_equal_to_everything_does_not_pass():
    "A self-check that compares with == must not be fooled by an object whose __eq__ always says True."
    class EqualsAll:
        def __eq__(self, other): return True
        def __hash__(self): return 0
    r = EA.check_l5_verdict(lambda gap, low, high: EqualsAll(), quiet=True)
    assert not r.passed and 'expected one of' in r.message
    r = EK.check_l7_reading(EqualsAll(), {'pooled': {'sparse_minus_dense_ci': [-0.1, 0.05]}}, quiet=True)
    assert not r.passed and 'as a str' in r.message
    assert not EK.check_l7_conclusion(EqualsAll(), quiet=True).passed


_SUMMARIES = [{'pooled': {'dense': 0.99, 'sparse': 0.95, 'sparse_minus_dense': -0.04, 'sparse_minus_dense_ci': [-0.08, 0.01]}},
              {'gap_sparse_minus_dense': -0.2, 'gap_sparse_minus_dense_ci': (-0.3, -0.1)},
              {'pooled': {'sparse_minus_dense_ci': np.array([0.02, 0.2])}}]
_TRUTH = ['no clear difference', 'sparse smaller', 'sparse larger']

@settings(max_examples=80, deadline=None)
@given(answer=st.one_of(values, callables, st.sampled_from(EK.READINGS + ('', 'Sparse smaller', 'sparse smaller ', 'smaller'))),
       summary=st.one_of(values, st.sampled_from(range(len(_SUMMARIES))),
                         st.sampled_from([{'pooled': None}, {'pooled': {}}, {'pooled': {'sparse_minus_dense_ci': [np.nan, 1]}},
                                          {'pooled': {'sparse_minus_dense_ci': 'ab'}}, {'gap_sparse_minus_dense_ci': [1, -1]},
                                          {'gap_sparse_minus_dense_ci': [10 ** 400, 1]}, {'pooled': {'sparse_minus_dense_ci': Unprintable()}}])))
def test_reading_check_never_raises(answer, summary):
    "Lesson 7's `check_l7_reading(answer, summary)`: a wrong or odd answer, or a broken summary, is reported, not raised."
    truth = _TRUTH[summary] if isinstance(summary, int) and not isinstance(summary, bool) and 0 <= summary < len(_SUMMARIES) else None
    if truth is not None: summary = _SUMMARIES[summary]
    r = EK.check_l7_reading(answer, summary, quiet=True)
    assert isinstance(r, CheckResult) and isinstance(r.passed, bool) and r.message
    str(r)
    assert r.passed == (truth is not None and type(answer) is str and answer == truth), (answer, summary, r)
