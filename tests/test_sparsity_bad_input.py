"""Bad input to weight sparsity (sparse_tutor.core.sparsity) and to the activation sparsity measures
(sparse_tutor.analysis.activation_sparsity): the right error type, and a message that names the argument and what came."""
import math

import numpy as np
import pytest
import torch
import torch.nn as nn
from hypothesis import given, settings, strategies as st

from sparse_tutor.core.sparsity import AbsTopK, WeightSparsifier, abs_topk, l0_schedule, sparsify_, topk_mask
from sparse_tutor.analysis.activation_sparsity import (SPARSITY_MEASURES, effective_rank, frac_near_zero, gini, hoyer, l1_l2,
                                                       topk_energy)


def _params():
    return {'q': nn.Parameter(torch.randn(8, 8)), 'fc_in': nn.Parameter(torch.randn(16, 8))}


# ---- densities and fractions --------------------------------------------------------------------------------------

@pytest.mark.parametrize('density, err, got', [
    (0, ValueError, 'got 0'), (0.0, ValueError, 'got 0'), (-0.1, ValueError, 'got -0.1'), (1.5, ValueError, 'got 1.5'),
    (float('nan'), ValueError, 'got nan'), (float('inf'), ValueError, 'got inf'),
    ('0.5', TypeError, "got str '0.5'"), (True, TypeError, 'got bool True'), (None, TypeError, 'got NoneType'),
])
def test_sparsify_bad_density(density, err, got):
    with pytest.raises(err, match=r'^density: expected a finite number in \(0, 1\]') as e: sparsify_(torch.randn(4, 4), density)
    assert got in str(e.value)


@given(st.floats(allow_nan=True, allow_infinity=True).filter(lambda v: not 0 < v <= 1))
@settings(max_examples=50, deadline=None)
def test_sparsify_any_density_outside_unit_interval(density):
    with pytest.raises(ValueError, match=r'^density: expected a finite number in \(0, 1\], got '): sparsify_(torch.randn(3, 3), density)


@pytest.mark.parametrize('frac', [0, -0.5, 1.5, float('nan')])
def test_topk_energy_frac_outside_unit_interval(frac):
    with pytest.raises(ValueError, match=r'^frac: expected a finite number in \(0, 1\], got '): topk_energy([1., 2., 3.], frac=frac)


def test_topk_energy_frac_wrong_type():
    with pytest.raises(TypeError, match=r'^frac: expected a finite number in \(0, 1\], got str'): topk_energy([1., 2.], frac='5%')


# ---- topk_mask / sparsify_ ----------------------------------------------------------------------------------------

@pytest.mark.parametrize('k, err, msg', [
    (17, ValueError, r'^k: expected an int in \[1, 16\], got 17'),
    (0, ValueError, r'^k: expected an int in \[1, 16\], got 0'),
    (2.0, TypeError, r'^k: expected an int in \[1, 16\], got float 2.0'),
    (None, TypeError, r'^k: expected an int'),
])
def test_topk_mask_bad_k(k, err, msg):
    with pytest.raises(err, match=msg): topk_mask(torch.randn(4, 4), k)


def test_topk_mask_bad_floor():
    with pytest.raises(ValueError, match=r'^floor: expected an int >= 0, got -1'): topk_mask(torch.randn(4, 4), 3, floor=-1)
    with pytest.raises(TypeError, match=r'^floor: expected an int >= 0, got float'): sparsify_(torch.randn(4, 4), 0.5, floor=1.5)


@pytest.mark.parametrize('w, err, msg', [
    ([[1.0, 2.0]], TypeError, r'^w: expected a torch.Tensor, got list'),
    (np.ones((2, 2)), TypeError, r'^w: expected a torch.Tensor, got ndarray'),
    (torch.ones(2, 2, dtype=torch.long), TypeError, r'^w: expected a floating-point tensor, got dtype torch.int64'),
    (torch.tensor(1.0), ValueError, r'^w: expected a tensor with at least one entry and one dimension, got shape \(\)'),
    (torch.ones(0, 3), ValueError, r'^w: expected a tensor with at least one entry'),
])
def test_weight_bad_type_or_shape(w, err, msg):
    with pytest.raises(err, match=msg): sparsify_(w, 0.5)
    with pytest.raises(err, match=msg): topk_mask(w, 1)


@pytest.mark.parametrize('bad', [float('nan'), float('inf')])
def test_weight_not_finite(bad):
    w = torch.randn(4, 4); w[1, 2] = bad
    with pytest.raises(ValueError, match=r'^w: expected finite values, got NaN or inf'): sparsify_(w, 0.5)
    with pytest.raises(ValueError, match=r'^w: expected finite values'): topk_mask(w, 3)


# ---- l0_schedule --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('kwargs, err, msg', [
    (dict(step=-1), ValueError, r'^step: expected an int >= 0, got -1'),
    (dict(step=1.5), TypeError, r'^step: expected an int >= 0, got float 1.5'),
    (dict(total_steps=0), ValueError, r'^total_steps: expected an int >= 1, got 0'),
    (dict(total_steps='100'), TypeError, r"^total_steps: expected an int >= 1, got str '100'"),
    (dict(target_density=0), ValueError, r'^target_density: expected a finite number in \(0, 1\], got 0'),
    (dict(target_density=float('nan')), ValueError, r'^target_density: expected a finite number in \(0, 1\], got nan'),
    (dict(anneal_frac=1.5), ValueError, r'^anneal_frac: expected a finite number in \[0, 1\], got 1.5'),
    (dict(anneal_frac=-0.1), ValueError, r'^anneal_frac: expected a finite number in \[0, 1\], got -0.1'),
    (dict(start_density=0.05), ValueError, r'^start_density: expected a number >= target_density=0.1 .*got 0.05'),
    (dict(start_density=2.0), ValueError, r'^start_density: expected a finite number in \(0, 1\], got 2'),
])
def test_l0_schedule_bad_args(kwargs, err, msg):
    args = dict(step=0, total_steps=100, target_density=0.1) | kwargs
    with pytest.raises(err, match=msg): l0_schedule(**args)


# ---- WeightSparsifier ---------------------------------------------------------------------------------------------

def test_sparsifier_non_matrix_param_named():
    ps = _params() | {'norm.weight': nn.Parameter(torch.ones(8))}
    with pytest.raises(ValueError, match=r"^params\['norm.weight'\]: expected a 2-D matrix, got shape \(8,\)"):
        WeightSparsifier(ps, 0.1, 100)
    with pytest.raises(ValueError, match=r"^params\['conv'\]: expected a 2-D matrix, got shape \(2, 3, 4\)"):
        WeightSparsifier({'conv': nn.Parameter(torch.ones(2, 3, 4))}, 0.1, 100)


@pytest.mark.parametrize('params, err, msg', [
    ([nn.Parameter(torch.ones(2, 2))], TypeError, r'^params: expected a dict name -> nn.Parameter .*got list'),
    ({}, ValueError, r'^params: expected at least one matrix, got an empty dict'),
    ({'w': [[1.0, 2.0]]}, TypeError, r"^params\['w'\]: expected an nn.Parameter .*got list"),
    ({'w': torch.ones(2, 2, dtype=torch.long)}, TypeError, r"^params\['w'\]: expected a floating-point matrix, got dtype torch.int64"),
    ({0: nn.Parameter(torch.ones(2, 2))}, TypeError, r'^params: expected str names, got int 0'),
])
def test_sparsifier_bad_params(params, err, msg):
    with pytest.raises(err, match=msg): WeightSparsifier(params, 0.1, 100)


@pytest.mark.parametrize('kwargs, err, msg', [
    (dict(target_density=0), ValueError, r'^target_density: expected a finite number in \(0, 1\], got 0'),
    (dict(target_density=1.5), ValueError, r'^target_density: expected a finite number in \(0, 1\], got 1.5'),
    (dict(target_density=float('nan')), ValueError, r'^target_density: .*got nan'),
    (dict(total_steps=0), ValueError, r'^total_steps: expected an int >= 1, got 0'),
    (dict(anneal_frac=2), ValueError, r'^anneal_frac: expected a finite number in \[0, 1\], got 2'),
    (dict(floor=-1), ValueError, r'^floor: expected an int >= 0, got -1'),
    (dict(floor=4.0), TypeError, r'^floor: expected an int >= 0, got float 4.0'),
])
def test_sparsifier_bad_settings(kwargs, err, msg):
    args = dict(target_density=0.1, total_steps=100) | kwargs
    with pytest.raises(err, match=msg): WeightSparsifier(_params(), **args)


def test_sparsifier_bad_step():
    sp = WeightSparsifier(_params(), 0.1, 100)
    with pytest.raises(ValueError, match=r'^step: expected an int >= 0, got -3'): sp.apply_(-3)
    with pytest.raises(TypeError, match=r'^step: expected an int >= 0, got float'): sp.density_at(2.5)
    with pytest.raises(TypeError, match=r'^step: expected an int >= 0, got NoneType'): sp.lr_scale(None)


@pytest.mark.parametrize('bad', [float('nan'), float('inf'), -float('inf')])
def test_sparsifier_diverged_weights_named(bad):
    ps = _params()
    with torch.no_grad(): ps['fc_in'][3, 1] = bad
    sp = WeightSparsifier(ps, 0.1, 10)
    with pytest.raises(ValueError, match=r"^params\['fc_in'\]: expected finite weights, got NaN or inf"): sp.apply_(9)


def test_sparsifier_diverged_weights_named_torch_path():
    "bfloat16 takes the torch (not numpy) selection path; it must fail the same way."
    ps = {'a': nn.Parameter(torch.randn(8, 8, dtype=torch.bfloat16)), 'b': nn.Parameter(torch.randn(8, 8, dtype=torch.bfloat16))}
    with torch.no_grad(): ps['b'][0, 0] = float('nan')
    with pytest.raises(ValueError, match=r"^params\['b'\]: expected finite weights"): WeightSparsifier(ps, 0.1, 10).apply_(9)


def test_sparsifier_load_state_dict_bad():
    sp = WeightSparsifier(_params(), 0.1, 100)
    with pytest.raises(TypeError, match=r'^state: expected a dict from state_dict\(\), got list'): sp.load_state_dict([])
    with pytest.raises(ValueError, match=r'^state: expected keys'): sp.load_state_dict({'floor': 4})
    bad_names = sp.state_dict() | {'names': ['q', 'other']}
    with pytest.raises(ValueError, match=r"^state: expected names \['q', 'fc_in'\], got \['q', 'other'\]"): sp.load_state_dict(bad_names)
    with pytest.raises(ValueError, match=r'^target_density: expected a finite number in \(0, 1\], got 0'):
        sp.load_state_dict(sp.state_dict() | {'target_density': 0.0})
    assert sp.target_density == 0.1                                   # a rejected state changes nothing


# ---- activation sparsity ------------------------------------------------------------------------------------------

@pytest.mark.parametrize('k, err, msg', [
    (6, ValueError, r'^k: expected an int in \[1, 5\], got 6'),
    (0, ValueError, r'^k: expected an int in \[1, 5\], got 0'),
    (2.0, TypeError, r'^k: expected an int in \[1, 5\], got float 2.0'),
])
def test_abs_topk_bad_k(k, err, msg):
    with pytest.raises(err, match=msg): abs_topk(torch.randn(3, 5), k)


def test_abs_topk_bad_dim_and_input():
    with pytest.raises(ValueError, match=r'^dim: expected an int in \[-2, 1\], got 2'): abs_topk(torch.randn(3, 5), 1, dim=2)
    with pytest.raises(TypeError, match=r"^dim: expected an int in \[-2, 1\], got str 'last'"): abs_topk(torch.randn(3, 5), 1, dim='last')
    with pytest.raises(TypeError, match=r'^x: expected a torch.Tensor, got list'): abs_topk([1.0, 2.0], 1)
    with pytest.raises(TypeError, match=r'^x: expected a floating-point tensor'): abs_topk(torch.arange(5), 1)


def test_abstopk_module_bad_k():
    with pytest.raises(ValueError, match=r'^k: expected an int >= 1, got 0'): AbsTopK(0)
    with pytest.raises(TypeError, match=r"^k: expected an int >= 1, got str '4'"): AbsTopK('4')
    with pytest.raises(ValueError, match=r'^k: expected an int in \[1, 3\], got 4'): AbsTopK(4)(torch.randn(2, 3))
    with pytest.raises(TypeError, match=r"^dim: expected an int, got str 'last'"): AbsTopK(2, dim='last')


# ---- sparsity measures --------------------------------------------------------------------------------------------

VECTOR_MEASURES = [f for name, (f, _) in SPARSITY_MEASURES.items() if name != 'effective_rank']
ALL_MEASURES = [f for f, _ in SPARSITY_MEASURES.values()]


@pytest.mark.parametrize('f', ALL_MEASURES, ids=lambda f: f.__name__)
@pytest.mark.parametrize('bad, word', [(float('nan'), 'NaN'), (float('inf'), 'inf'), (-float('inf'), 'inf')])
def test_measures_reject_non_finite(f, bad, word):
    arg = 'X' if f is effective_rank else 'x'
    x = torch.randn(4, 6); x[2, 3] = bad
    with pytest.raises(ValueError, match=rf'^{arg}: expected finite values, got {word}'): f(x)
    with pytest.raises(ValueError, match=rf'^{arg}: expected finite values, got {word}'): f(x.numpy())


@given(st.lists(st.floats(allow_nan=True, allow_infinity=False, width=32), min_size=2, max_size=20)
       .filter(lambda v: any(math.isnan(a) for a in v)))
@settings(max_examples=50, deadline=None)
def test_vector_measures_reject_any_nan(values):
    for f in VECTOR_MEASURES:
        with pytest.raises(ValueError, match=r'^x: expected finite values, got NaN'): f(values)


@pytest.mark.parametrize('f', ALL_MEASURES, ids=lambda f: f.__name__)
@pytest.mark.parametrize('x, what', [
    (['a', 'b', 'c'], 'list of str'), ([['a', 'b'], ['c', 'd']], 'list of list'), (np.array(['1', '2']), 'ndarray of dtype <U1'),
    (np.array([1 + 2j, 3j]), 'ndarray of dtype complex128'), ({'a': 1.0}, 'dict'), (None, 'NoneType'), ('0.5', 'str'),
])
def test_measures_reject_wrong_types(f, x, what):
    arg = 'X' if f is effective_rank else 'x'
    with pytest.raises(TypeError, match=rf'^{arg}: expected a tensor, numpy array or list of real numbers, got {what}'): f(x)


@pytest.mark.parametrize('f', ALL_MEASURES, ids=lambda f: f.__name__)
def test_measures_reject_complex_tensor(f):
    arg = 'X' if f is effective_rank else 'x'
    with pytest.raises(TypeError, match=rf'^{arg}: expected real numbers, got dtype torch.complex64'):
        f(torch.randn(3, 3, dtype=torch.complex64))


@pytest.mark.parametrize('f', ALL_MEASURES, ids=lambda f: f.__name__)
def test_measures_reject_ragged_list(f):
    arg = 'X' if f is effective_rank else 'x'
    with pytest.raises(ValueError, match=rf'^{arg}: expected a rectangular array of numbers, got a ragged list'): f([[1.0, 2.0], [3.0]])


@pytest.mark.parametrize('f', VECTOR_MEASURES, ids=lambda f: f.__name__)
def test_vector_measures_reject_scalars_and_empty(f):
    with pytest.raises(ValueError, match=r'^x: expected at least 1 dimension\(s\), got shape \(\)'): f(torch.tensor(3.0))
    with pytest.raises(ValueError, match=r'^x: expected at least \d entries along the last dimension, got shape \(2, 0\)'): f(torch.ones(2, 0))


def test_hoyer_needs_two_entries():
    with pytest.raises(ValueError, match=r'^x: expected at least 2 entries along the last dimension, got shape \(5, 1\)'):
        hoyer(torch.ones(5, 1))


def test_effective_rank_needs_a_matrix():
    with pytest.raises(ValueError, match=r'^X: expected at least 2 dimension\(s\), got shape \(4,\)'): effective_rank(torch.ones(4))
    with pytest.raises(ValueError, match=r'^X: expected at least 1 sample \(row\), got shape \(0, 3\)'): effective_rank(torch.ones(0, 3))


def test_frac_near_zero_bad_tol_and_relative():
    with pytest.raises(ValueError, match=r'^tol: expected a finite number in \[0, 1\], got -0.1'): frac_near_zero([1., 0.], tol=-0.1)
    with pytest.raises(ValueError, match=r'^tol: expected a finite number in \[0, 1\], got 2'): frac_near_zero([1., 0.], tol=2.0)
    with pytest.raises(ValueError, match=r'^tol: expected a finite number >= 0, got -1'): frac_near_zero([1., 0.], tol=-1, relative=False)
    with pytest.raises(ValueError, match=r'^tol: expected a finite number >= 0, got nan'): frac_near_zero([1., 0.], tol=float('nan'), relative=False)
    with pytest.raises(TypeError, match=r"^tol: expected a finite number >= 0, got str '0.1'"): frac_near_zero([1., 0.], tol='0.1', relative=False)
    with pytest.raises(TypeError, match=r"^relative: expected a bool, got str 'yes'"): frac_near_zero([1., 0.], relative='yes')


def test_good_input_still_works_next_to_bad():
    "The checks reject only bad input: the same calls with good values return numbers."
    assert float(hoyer([3., 4., 0., 0.])) == pytest.approx(0.6)
    assert float(gini([3., 4., 0., 0.])) == pytest.approx(15 / 28)
    assert float(l1_l2(np.array([3., 4., 0., 0.]))) == pytest.approx(1.4)
    assert float(topk_energy(torch.tensor([3., 4., 0., 0.]), frac=1)) == pytest.approx(1.0)
    assert float(frac_near_zero([1., 0.], tol=0, relative=False)) == pytest.approx(0.5)
    assert int((sparsify_(torch.randn(4, 4), 1) != 0).sum()) == 16
    assert l0_schedule(0, 1, 1) == 1.0
