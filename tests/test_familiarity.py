"Lesson 5's measurements: well-formed findings, exercise checks against the reference solutions, snapshots, widget speed."
import importlib.util, json, re
from pathlib import Path

import numpy as np
import pytest
import torch

from sparse_tutor.experiments import familiarity as F
from sparse_tutor.widgets.scrubber import SnapshotScrubber, scrub_ms
from sparse_tutor.exercises import lesson5 as X
from sparse_tutor.core.stats import Estimate

SOL = Path(__file__).resolve().parent.parent / 'solutions' / '05_emergent_activation_sparsity.py'


def solutions():
    spec = importlib.util.spec_from_file_location('sol05', SOL)
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod


def test_findings_quick_well_formed():
    f = F.lesson05_findings(quick=True)
    json.dumps(f)
    for k in ('tiny_gap', 'minilm_gap', 'difficulty_spearman'):
        assert isinstance(f[k], float) and np.isfinite(f[k])
        lo, hi = f[k + '_ci'] if k != 'difficulty_spearman' else f['difficulty_spearman_ci']
        assert lo <= f[k] <= hi
    assert f['tiny_steps'] == list(F.SNAPSHOT_STEPS) and set(f['tiny_gap_by_step']) == {str(s) for s in F.SNAPSHOT_STEPS}
    assert f['n_minilm'] == {'familiar': 80, 'shuffled': 80, 'random': 80, 'code': 40}


def test_deterministic():
    snaps = F.load_snapshots()
    two = {s: snaps[s] for s in (0, 3000)}
    a, b = F.tiny_familiarity(two, n=20), F.tiny_familiarity(two, n=20)
    assert a.gap == b.gap and all(np.array_equal(a.values[s][k], b.values[s][k]) for s in two for k in a.values[s])


def test_snapshots_shipped_small_and_trained():
    files = [F.snapshot_path(step) for step in F.SNAPSHOT_STEPS]
    missing = [str(path) for path in files if not path.is_file()]
    assert not missing, f"shipped snapshots missing (make them with `{F.SNAPSHOT_MAKE}`): {missing}"
    assert sorted(F.SNAPSHOT_DIR.glob('*.safetensors')) == sorted(files) and sum(f.stat().st_size for f in files) < 4e6
    snaps = F.load_snapshots()
    assert list(snaps) == list(F.SNAPSHOT_STEPS)
    ids = F.familiar_programs(50, seed=3)
    assert F.next_token_loss_of(snaps[3000], ids) < 0.5 * F.next_token_loss_of(snaps[0], ids)


def test_ship_snapshots_small_run(tmp_path):
    out = F.ship_snapshots(steps=(0, 50, 100), total_steps=100, n_train=500, out_dir=tmp_path, progress=False)
    assert sorted(out['paths']) == [0, 50, 100]
    snaps = F.load_snapshots(root=tmp_path)
    assert list(snaps) == [0, 50, 100] and all(m.embed.weight.dtype == torch.float32 for m in snaps.values())


def test_exercise_solutions_pass_and_stubs_fail():
    s = solutions()
    assert X.check_l5_topk_energy(s.my_topk_energy, quiet=True)
    assert X.check_l5_text_sparsity(s.my_text_sparsity, quiet=True)
    assert X.check_l5_gap_ci(s.my_gap_ci, quiet=True)
    assert X.check_l5_verdict(s.my_verdict, quiet=True)
    for chk in (X.check_l5_topk_energy, X.check_l5_text_sparsity, X.check_l5_gap_ci, X.check_l5_verdict):
        for bad in (None, 3, lambda *a: None, lambda *a: 1 / 0, lambda *a: 'text', lambda *a: np.full(3, np.nan)):
            r = chk(bad, quiet=True)
            assert not r and r.message


def test_verdict():
    assert F.verdict(Estimate(0.01, 0.001, 0.02)) == 'sparser'
    assert F.verdict(Estimate(-0.01, -0.02, -0.001)) == 'denser'
    assert F.verdict(Estimate(0.0, -0.01, 0.01)) == 'no clear difference'
    with pytest.raises(TypeError, match='estimate: expected an Estimate'): F.verdict((0.1, 0, 0.2))


def test_scrubber_is_fast():
    snaps = F.load_snapshots()
    tf = F.tiny_familiarity(snaps, n=20)
    sc = SnapshotScrubber(tf)
    ms = scrub_ms(sc)
    assert ms['median'] < 30 and ms['n'] == 5 * len(sc.steps)
    assert sc.set(50)['step'] == 50 and sc._w['image'].value == sc.png(50)
    assert sc.static() is not None and sc.static(3000) is not None


@pytest.mark.parametrize('call, err, msg', [
    (lambda: F.tiny_inputs(1), ValueError, 'n: expected an int >= 2'),
    (lambda: F.tiny_inputs(10, seed=-1), ValueError, 'seed: expected an int >= 0'),
    (lambda: F.corrupt_tokens(torch.zeros(1, 3, dtype=torch.long), 2), ValueError, r'frac: expected a finite number in \[0, 1\]'),
    (lambda: F.corrupt_tokens(torch.zeros(1, 3, dtype=torch.long), 'half'), TypeError, 'frac: expected a finite number'),
    (lambda: F.tiny_familiarity([]), TypeError, 'snapshots: expected a non-empty dict'),
    (lambda: F.tiny_familiarity({}), ValueError, 'snapshots: expected a non-empty dict'),
    (lambda: F.difficulty_curve(None, levels=(0.0,)), ValueError, 'levels: expected at least 3'),
    (lambda: F.ship_snapshots(variant='huge'), ValueError, 'variant: expected one of'),
    (lambda: F.ship_snapshots(steps=[]), ValueError, 'steps: expected at least one'),
    (lambda: F.ship_snapshots(steps=[10]), ValueError, 'steps: expected multiples of 50'),
    (lambda: F.load_snapshots(variant='sparse'), ValueError, 'no snapshots .* make them with'),
    (lambda: SnapshotScrubber('tf'), TypeError, 'tf: expected a TinyFamiliarity'),
    (lambda: F.lesson05_summary(1, 2, 3), TypeError, 'tf: expected a TinyFamiliarity'),
    (lambda: F.shuffle_words(3), TypeError, 'text: expected a str'),
    (lambda: F.lesson05_findings(quick=1), TypeError, 'quick: expected True or False'),
])
def test_bad_input(call, err, msg):
    with pytest.raises(err, match=msg): call()
