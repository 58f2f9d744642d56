"""Every planted wrong answer of lessons 1-6 fails its self-check with the message about that mistake (one test per
planted mistake), and the reference solution passes. The mistakes a check recognises by their output are listed in
each exercise module (`*_MISTAKES`: (wrong answer, message)); the others are written out here."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from sparse_tutor.exercises import checks as C
from sparse_tutor.exercises import lesson1 as L1, lesson2 as L2, lesson3 as L3, lesson4 as L4, lesson5 as L5, lesson6 as L6
from sparse_tutor.experiments.representation import random_rotation

ROOT = Path(__file__).resolve().parent.parent

# (check, the module's list of planted mistakes)
LISTED = [(L1.check_l1_variance_explained, L1.VE_MISTAKES), (L1.check_l1_rsa, L1.RSA_MISTAKES),
          (L1.check_l1_keep_top_pcs, L1.PCS_MISTAKES), (L2.check_l2_decrypt, L2.DECRYPT_MISTAKES),
          (L3.check_l3_density, L3.DENSITY_MISTAKES), (L3.check_l3_keep_top_k, L3.TOPK_MISTAKES),
          (L4.check_l4_edges, L4.EDGE_MISTAKES), (L4.check_l4_patching_effect, L4.PATCHING_MISTAKES),
          (L5.check_l5_topk_energy, L5.TOPK_ENERGY_MISTAKES), (L5.check_l5_text_sparsity, L5.TEXT_MISTAKES),
          (L6.check_l6_quantile_levels, L6.QUANTILE_MISTAKES), (L6.check_l6_candidates, L6.CANDIDATE_MISTAKES),
          (L6.check_l6_nearest, L6.NEAREST_MISTAKES), (L6.check_l6_coverage, L6.COVERAGE_MISTAKES)]
CASES = [(chk, wrong, message) for chk, mistakes in LISTED for wrong, message in mistakes]


@pytest.mark.parametrize('chk, wrong, message', CASES,
                         ids=[f'{chk.__name__}-{i}' for i, (chk, _, _) in enumerate(CASES)])
def test_listed_mistake_gets_its_message(chk, wrong, message):
    r = chk(wrong, quiet=True)
    assert not r and r.message == message, r.message


def _in_place_hook(units, mean):
    def hook(act, name):
        act[:, units] = mean[units]
        return act
    return hook


def _no_replacement(a, b, n, seed):
    rng = np.random.default_rng(seed)
    d = [rng.permutation(b).mean() - rng.permutation(a).mean() for _ in range(200)]
    return np.mean(b) - np.mean(a), min(d) - 1e-12, max(d) + 1e-12


# (check, planted wrong answer, a phrase its message must contain)
WRITTEN = [
    (L2.check_l2_rotation, lambda d, s: np.random.default_rng(s).normal(size=(d, d)), 'not orthogonal'),
    (L2.check_l2_rotation, lambda d, s: np.linalg.qr(np.random.normal(size=(d, d)))[0], 'same seed gave a different'),
    (L2.check_l2_rotation, lambda d, s: random_rotation(d, 0), 'seeds 0 and 1 gave the same'),
    (L2.check_l2_rotation, lambda d, s: np.eye(d), 'seeds 0 and 1 gave the same'),
    (L2.check_l2_ablate_hook, _in_place_hook, 'in place'),
    (L2.check_l2_ablate_hook, lambda u, m: (lambda act, name: act.clone().index_fill_(1, torch.tensor(u), 0.0)),
     'not to zero'),
    (L4.check_l4_scale_hook, lambda s, m: (lambda act, name: act * s), 'left out the mean'),
    (L4.check_l4_scale_hook, lambda s, m: (lambda act, name: act.mul_(s)), 'in place'),
    (L4.check_l4_scale_hook, lambda s, m: (lambda act, name: act * (1 - s) + m * s), 'swapped'),
    (L5.check_l5_gap_ci, lambda a, b, n, seed: (np.mean(a) - np.mean(b), -1, 1), 'sign is flipped'),
    (L5.check_l5_gap_ci, _no_replacement, 'much narrower'),
    (L5.check_l5_verdict, lambda g, lo, hi: 'sparser' if g > 0 else 'denser', 'only the interval decides'),
]


@pytest.mark.parametrize('chk, wrong, phrase', WRITTEN, ids=[f'{c.__name__}-{p}' for c, _, p in WRITTEN])
def test_written_mistake_gets_its_message(chk, wrong, phrase):
    r = chk(wrong, quiet=True)
    assert not r and phrase in r.message, r.message


def test_lesson1_knobs_that_keep_the_bias_say_so():
    r = L1.check_l1_knobs(dict(init_scale=0.5), quiet=True)
    assert not r and r.message.endswith('the ratio is still 3 or more'), r.message


def test_lesson6_best_names_the_measured_winner():
    table = {'sgicl': {'acc': 0.5}, 'random': {'acc': 0.6}}
    r = L6.check_l6_best('sgicl', table, quiet=True)
    assert not r and 'sgicl reached 50.0%; the best method reached 60.0%' in r.message


class _Sliders:
    "A stand-in for lesson 4's sliders: two location sliders, one of them harmful."
    groups = {'L1.attn_in': [('L1.attn_in', 3)], 'L0.mlp': [('L0.mlp', 7)]}
    def group_of(self, node):
        from sparse_tutor.circuits.graph import parse_node
        loc, i = parse_node(node)
        return next((g for g, m in self.groups.items() if (loc, i) in m), None)
    def knockouts(self): return {'L1.attn_in': 0.5, 'L0.mlp': 0.97}


@pytest.mark.parametrize('answer, phrase', [('L0.mlp', 'look for a slider whose removal costs more'),
                                            ('L0.mlp[8]', 'is not in this circuit'),
                                            ('the opening quote', 'neither a node id nor a slider'),
                                            (3, "expected a node id such as 'L0.v[3]'")])
def test_lesson4_key_node_mistakes(answer, phrase):
    r = L4.check_l4_key_node(answer, _Sliders(), quiet=True)
    assert not r and phrase in r.message, r.message


def test_lesson4_key_node_accepts_a_node_id_or_its_slider():
    assert L4.check_l4_key_node('L1.attn_in[3]', _Sliders(), quiet=True)
    assert L4.check_l4_key_node('L1.attn_in', _Sliders(), quiet=True)


def test_hints_come_one_step_at_a_time_and_the_solution_on_request(capsys):
    C.FAILURES.clear()
    stub = L3.check_l3_density(lambda w: None)
    first = L3.check_l3_density(lambda w: 1.0)
    second = L3.check_l3_density(lambda w: 1.0)
    assert stub.hint == first.hint and first.hint != second.hint
    assert 'show_solution' not in first.hint and "show_solution('L3 ex 1')" in second.hint
    C.show_solution('L3 ex 1')
    out = capsys.readouterr().out
    assert 'def density(w):' in out and 'reference solution of L3 ex 1' in out
    C.FAILURES.clear()


FUNCTION_CHECKS = [L1.check_l1_variance_explained, L1.check_l1_rsa, L1.check_l1_keep_top_pcs, L2.check_l2_decrypt,
                   L2.check_l2_rotation, L2.check_l2_ablate_hook, L3.check_l3_density, L3.check_l3_keep_top_k,
                   L4.check_l4_edges, L4.check_l4_scale_hook, L4.check_l4_patching_effect, L5.check_l5_topk_energy,
                   L5.check_l5_text_sparsity, L5.check_l5_gap_ci, L5.check_l5_verdict, L6.check_l6_quantile_levels,
                   L6.check_l6_candidates, L6.check_l6_nearest, L6.check_l6_coverage]


@pytest.mark.parametrize('chk', FUNCTION_CHECKS, ids=[c.__name__ for c in FUNCTION_CHECKS])
def test_hints_hold_no_code(chk):
    "Neither the nudge (first wrong answer) nor the key idea (second) is code: code comes only from show_solution."
    C.FAILURES.clear()
    hints = [chk(lambda *a: 12345, quiet=True).hint for _ in range(2)]
    assert hints[0] and hints[1] and hints[0] != hints[1], hints
    for hint in hints:
        for code in ('def ', 'return ', 'lambda', ' = ', '.topk(', '.sum('):
            assert code not in hint, (chk.__name__, hint)
    C.FAILURES.clear()


def test_every_registered_solution_is_found_and_passes_its_check():
    for exercise in [k for k in C.SOLUTIONS if k[:2] in {'L1', 'L2', 'L3', 'L4', 'L5', 'L6'}]:
        assert C.solution_source(exercise).strip(), exercise
    spec = importlib.util.spec_from_file_location('sol04', ROOT / 'solutions' / '04_tracing_circuits.py')
    sol = importlib.util.module_from_spec(spec); spec.loader.exec_module(sol)
    assert L4.check_l4_patching_effect(sol.my_patching_effect, quiet=True)
    spec = importlib.util.spec_from_file_location('sol06', ROOT / 'solutions' / '06_sparsity_as_a_signal.py')
    sol = importlib.util.module_from_spec(spec); spec.loader.exec_module(sol)
    assert L6.check_l6_coverage(sol.my_coverage, quiet=True)
    assert L6.check_l6_best(sol.best_method({'a': {'acc': 0.2}, 'b': {'acc': 0.7}}), {'a': {'acc': 0.2}, 'b': {'acc': 0.7}}, quiet=True)


def test_no_lesson_solution_is_left_in_the_folder_the_course_opens():
    left = sorted(p.name for p in (ROOT / 'nbs' / 'lessons').rglob('*.py') if p.name[:2] in {'01', '02', '03', '04', '05', '06'})
    assert not left, f"lesson solutions inside nbs/lessons/: {left}"
