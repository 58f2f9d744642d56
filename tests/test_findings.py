"The lessons' headline numbers: what the lessons assert is what the benchmark computes, and bad knobs are refused."
import pytest
from sparse_tutor.experiments import findings as F

def test_snapshots_do_not_change_training():
    "Lesson 1 trains with snapshots; the benchmark without. Both must give the same numbers."
    F.one_thread()
    a = F.summarise_easy_hard(F.easy_hard_runs(2, snapshot_every=480))
    b = F.lesson01_findings(seeds=2)
    assert a == b and b['seeds'] == 2 and b['acc_min'] >= 0.99 and b['ratio_min'] >= 5

def test_lesson02_headline():
    f = F.lesson02_findings()
    assert f['decrypted_acc'] >= 0.99 and f['plain_probe_acc'] >= 0.95 and f['rotation_probe_acc'] >= 0.95
    assert abs(f['cipher_probe_acc'] - f['chance']) < 0.03 and abs(f['cipher_rsa']) < 0.05 and f['ablated_acc'] < 0.5

@pytest.mark.parametrize('call, err, msg', [
    (lambda: F.train_easy_hard(width=0), ValueError, 'width must be an int >= 1'),
    (lambda: F.train_easy_hard(init_scale=-1), ValueError, 'init_scale must be a finite number > 0'),
    (lambda: F.lesson01_findings(seeds=0), ValueError, 'seeds must be an int >= 1'),
    (lambda: F.train_cipher(encrypted='yes'), TypeError, 'encrypted must be True or False'),
    (lambda: F.train_cipher(encrypted=True, fixed_keys=(1, 2)), ValueError, 'fixed_keys'),
    (lambda: F.random_rotation(0), ValueError, 'd must be an int >= 1'),
    (lambda: F.summarise_easy_hard([]), TypeError, 'runs must be a non-empty list'),
    (lambda: F.summarise_cipher({'plain': None}), TypeError, 'runs must be the dict returned by cipher_runs'),
])
def test_bad_knobs(call, err, msg):
    with pytest.raises(err, match=msg): call()
