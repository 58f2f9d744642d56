"The lessons' headline numbers: what the lessons assert is what the benchmark computes, and bad knobs are refused."
import re

import pytest
from sparse_tutor.core.train import one_thread
from sparse_tutor.experiments import findings as F
from sparse_tutor.experiments import representation as R

def test_every_lesson_in_the_aggregator():
    "findings holds one `lessonNN_findings` per lesson, each the function of that lesson's experiment module."
    names = sorted(name for name in dir(F) if re.fullmatch(r'lesson\d\d_findings', name))
    assert names == [f'lesson0{i}_findings' for i in range(1, 8)]
    assert F.lesson01_findings is R.lesson01_findings and F.lesson02_findings is R.lesson02_findings
    assert all(getattr(F, name).__module__.startswith('sparse_tutor.experiments.') for name in names)

def test_snapshots_do_not_change_training():
    "Lesson 1 trains with snapshots; the benchmark without. Both must give the same numbers."
    one_thread()
    a = R.summarise_easy_hard(R.easy_hard_runs(2, snapshot_every=480))
    b = R.lesson01_findings(seeds=2)
    assert a == b and b['seeds'] == 2 and b['acc_min'] >= 0.99 and b['ratio_min'] >= 5

def test_lesson02_headline():
    f = R.lesson02_findings()
    assert f['decrypted_acc'] >= 0.99 and f['plain_probe_acc'] >= 0.95 and f['rotation_probe_acc'] >= 0.95
    assert abs(f['cipher_probe_acc'] - f['chance']) < 0.03 and abs(f['cipher_rsa']) < 0.05 and f['ablated_acc'] < 0.5

@pytest.mark.parametrize('call, err, msg', [
    (lambda: R.train_easy_hard(width=0), ValueError, 'width: expected an int >= 1, got 0'),
    (lambda: R.train_easy_hard(width=2.5), TypeError, 'width: expected an int >= 1, got float'),
    (lambda: R.train_easy_hard(init_scale=-1), ValueError, 'init_scale: expected a finite number > 0'),
    (lambda: R.lesson01_findings(seeds=0), ValueError, 'seeds: expected an int >= 1'),
    (lambda: R.train_cipher(encrypted='yes'), TypeError, 'encrypted: expected True or False'),
    (lambda: R.train_cipher(encrypted=True, fixed_keys=(1, 2)), ValueError, 'fixed_keys: expected None'),
    (lambda: R.random_rotation(0), ValueError, 'd: expected an int >= 1'),
    (lambda: R.summarise_easy_hard([]), TypeError, 'runs: expected a non-empty list'),
    (lambda: R.summarise_cipher({'plain': None}), TypeError, 'runs: expected the dict returned by cipher_runs'),
])
def test_bad_knobs(call, err, msg):
    with pytest.raises(err, match=msg): call()
