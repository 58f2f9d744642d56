"""The sparsity frontier: bad input gets a clear error, a frontier run stores its models and circuits and a rerun
skips what is done, the stored checks equal the same checks recomputed, and `sparse-tutor ship-frontier` reports a
failure without a traceback."""
import shutil

import pytest
import torch

from sparse_tutor.cli import main
from sparse_tutor.experiments.frontier_models import (frontier_config, frontier_density, frontier_l0, frontier_path,
                                                      load_frontier, ship_frontier, train_frontier_model)
from sparse_tutor.experiments.frontier_circuits import (circuit_file, frontier_circuits, passes,
                                                        ship_frontier_circuits)


def test_l0_the_widest_width_cannot_hold_is_refused():
    with pytest.raises(ValueError, match=r"q.weight has 256 rows keeping floor=1 each, so L0 must be >= 256 "
                                         r"\(density >= 0.003906\); got 0.003, L0 196"):
        frontier_l0(widest_density=0.003)
    with pytest.raises(ValueError, match=r"L0 must be >= 512 .*got 0.005, L0 327"):
        frontier_l0(widest_density=0.005, floor=2)


@pytest.mark.parametrize('call, message', [
    (lambda: frontier_config(2048), r"width: expected an int in \[16, 1024\], got 2048"),
    (lambda: frontier_config(130), r"width: expected a multiple of 4"),
    (lambda: frontier_config('wide'), r"width: expected an int"),
    (lambda: frontier_density(16), r"width: expected a width that can hold the L0 of 0.01 at 256 \(>= 26\), got 16"),
    (lambda: frontier_density(64, widest_density=0), r"widest_density"),
    (lambda: frontier_density(64, widest_density=1.5), r"widest_density"),
])
def test_width_or_density_out_of_range(call, message):
    with pytest.raises((ValueError, TypeError), match=message): call()


@pytest.fixture(scope='module')
def tiny_frontier(tmp_path_factory):
    "A d64 frontier run of 20 steps per model, models and circuits of one task, in a temporary folder."
    root = tmp_path_factory.mktemp('frontier')
    torch.set_num_threads(1)
    run = dict(widths=(64,), seeds={64: (0,)}, work_dir=root / 'work', workers=1, progress=False)
    models = ship_frontier(out_dir=root / 'models', steps=20, n_train=2000, **run)
    circuits = ship_frontier_circuits(tasks=('single_double_quote',), model_dir=root / 'models',
                                      out_dir=root / 'circuits', steps=20, **run)
    return root, run, models, circuits


def test_a_frontier_run_stores_models_and_circuits(tiny_frontier):
    root, _, models, circuits = tiny_frontier
    assert sorted(models) == ['dense_d64_s0', 'sparse_d64_s0']
    assert models['sparse_d64_s0']['nonzero'] == 2 * (4 * 655 + 2 * 2621)        # the frontier's L0, both layers
    assert models['dense_d64_s0']['nonzero'] == models['dense_d64_s0']['matrix_params']
    lam = circuits['chosen'][64]['single_double_quote']
    assert circuit_file('dense', 64, 0, 'single_double_quote', lam, root=root / 'circuits').is_file()
    report = circuits['reports'][f'sparse_d64_s0_single_double_quote_lam{lam:g}']
    assert report['random_draws'] == 20 and report['expected_overlap'] > 0


def test_a_rerun_skips_what_is_done(tiny_frontier):
    root, run, models, circuits = tiny_frontier
    stamps = {path: path.stat().st_mtime_ns for path in root.rglob('*.safetensors')}
    assert ship_frontier(out_dir=root / 'models', steps=20, n_train=2000, **run) == models
    again = ship_frontier_circuits(tasks=('single_double_quote',), model_dir=root / 'models',
                                   out_dir=root / 'circuits', steps=20, **run)
    assert again == circuits
    assert {path: path.stat().st_mtime_ns for path in root.rglob('*.safetensors')} == stamps


def test_a_stopped_training_run_continues_from_its_state(tmp_path):
    "Without its report, the job finds its model file and does not train again; with neither it trains."
    torch.set_num_threads(1)
    first = train_frontier_model('sparse', 64, out_dir=tmp_path / 'out', work_dir=tmp_path / 'work', steps=10,
                                 checkpoint_every=5, n_train=500)
    path = frontier_path('sparse', 64, 0, tmp_path / 'out')
    stamp = path.stat().st_mtime_ns
    assert train_frontier_model('sparse', 64, out_dir=tmp_path / 'out', work_dir=tmp_path / 'work', steps=10,
                                checkpoint_every=5, n_train=500) == first
    assert path.stat().st_mtime_ns == stamp


def test_a_mismatched_or_corrupt_frontier_checkpoint_is_refused(tiny_frontier, tmp_path):
    root = tiny_frontier[0]
    shutil.copy(frontier_path('sparse', 64, 0, root / 'models'), frontier_path('dense', 64, 0, tmp_path))
    with pytest.raises(ValueError, match=r"does not hold the frontier model dense_d64_s0.*sparse-tutor ship-frontier"):
        load_frontier('dense', 64, 0, root=tmp_path)
    corrupt = frontier_path('sparse', 64, 0, tmp_path)
    corrupt.write_bytes(frontier_path('sparse', 64, 0, root / 'models').read_bytes()[:5000])
    with pytest.raises(ValueError, match=r"sparse_d64_s0.safetensors.*sparse-tutor ship-frontier"):
        load_frontier('sparse', 64, 0, root=tmp_path)
    with pytest.raises(ValueError, match=r"no sparse_tutor checkpoint at .*sparse_d64_s1.*sparse-tutor ship-frontier"):
        load_frontier('sparse', 64, 1, root=tmp_path)


def test_stored_checks_equal_live_checks_on_the_shipped_frontier():
    torch.set_num_threads(1)
    stored, live = frontier_circuits(widths=(64,)), frontier_circuits(widths=(64,), live=64)
    assert stored == live
    for row in stored['64'].values():
        assert row['passes'] == all(passes(checks) for checks in row['per_seed'].values())
        assert row['draws'] >= 20


def test_passes_needs_all_three_checks():
    good = {'sufficient_loss': 0.18, 'necessary_acc': 0.55, 'random_ablation_acc': 0.95}
    assert passes(good)
    for key, value in (('sufficient_loss', 0.19), ('necessary_acc', 0.61), ('random_ablation_acc', 0.89)):
        assert not passes({**good, key: value}), key


def test_cli_names_a_bad_width(capsys):
    with pytest.raises(SystemExit) as exit_info: main(['ship-frontier', '--widths', '130', '--workers', '1'])
    assert exit_info.value.code == 1
    assert 'width: expected a multiple of 4' in capsys.readouterr().err


def test_cli_names_an_unreachable_dask_address(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(['ship-frontier', '--widths', '64', '--dask', 'tcp://127.0.0.1:1', '--work-dir', str(tmp_path)])
    assert exit_info.value.code == 1
    assert 'tcp://127.0.0.1:1' in capsys.readouterr().err
