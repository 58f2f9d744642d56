"""The capstone's grid across density and width, and the code-task gaps of the frontier transformers: bad input gets
a clear error, the shipped results are well formed and reproducible, and a grid run resumes."""
import json, os

import numpy as np
import pytest
import torch

from sparse_tutor.core.stats import MIN_SEEDS
from sparse_tutor.experiments import capstone_grid as G
from sparse_tutor.experiments import capstone_code as K
from sparse_tutor.experiments.capstone_findings import lesson07_findings


@pytest.fixture(scope='module')
def records():
    return G.load_grid()


@pytest.mark.parametrize('call, err, message', [
    (lambda: G.check_grid_point('cipher', 256), ValueError, r"width: expected an int in \[32, 128\], got 256"),
    (lambda: G.check_grid_point('easy_hard', 8), ValueError, r"width: expected an int in \[16, 64\], got 8"),
    (lambda: G.check_grid_point('easy_hard', 32, 0.05), ValueError, r"density: expected a finite number in \[0.0625, 1"),
    (lambda: G.check_grid_point('cipher', 64, 1.5), ValueError, r"density: expected a finite number in \[0.05, 1"),
    (lambda: G.check_grid_point('cipher', 64, 'half'), TypeError, r"density: expected"),
    (lambda: G.check_grid_point('xor', 64), ValueError, r"task: expected one of"),
    (lambda: G.grid_jobs(seeds=range(4)), ValueError, r"seeds: expected at least 5 distinct seeds"),
    (lambda: G.grid_jobs(seeds=[0, 0, 1, 2, 3]), ValueError, r"seeds: expected at least 5 distinct seeds"),
    (lambda: G.grid_jobs(seeds='01234'), TypeError, r"seeds: expected a sequence of ints"),
    (lambda: G.grid_cells([]), TypeError, r"records: expected a non-empty list of grid_job records"),
    (lambda: G.dose_response([{'x': 1}]), TypeError, r"records: expected a non-empty list of grid_job records"),
])
def test_bad_input_is_refused(call, err, message):
    with pytest.raises(err, match=message): call()


def test_a_cell_with_too_few_seeds_has_no_interval(records):
    few = [r for r in records if r['seed'] < MIN_SEEDS - 1]
    with pytest.raises(ValueError, match=r"expected at least 5 seeds in the cell cipher width 64 density 0.5 for an "
                                         r"interval over its networks, got 4"):
        G.grid_cell(few, 'cipher', 64, 0.5)
    no_dense = [r for r in records if not (r['density'] == 1.0 and r['seed'] == 3)]
    with pytest.raises(ValueError, match=r"has no dense network of seeds \[3\] to pair with"):
        G.grid_cell(no_dense, 'cipher', 64, 0.5)


def test_the_shipped_grid_is_well_formed(records):
    cells = G.grid_cells(records)
    assert len(cells) == 24 and all(cell['seeds'] == 10 for cell in cells)
    for r in records:
        assert r['learned'] == (min(r['acc'].values()) >= G.LEARNED_ACC and max(r['loss'].values()) <= 0.1), r
        assert 0.98 * r['density'] <= r['nonzero_fraction'] < r['density'] + 0.02, r     # k rounds down; the floor adds
        assert (r['gap'] is None) == (not r['learned']) and (r['circuit_share'] is None) == (not r['learned'])
        if r['learned']: assert 0 < r['circuit_share'] <= 1
    for cell in cells:
        if cell['diff'] is not None:
            assert cell['learned'] >= MIN_SEEDS and cell['diff_ci'][0] <= cell['diff'] <= cell['diff_ci'][1]
            assert abs(cell['diff'] - (cell['gap_sparse'] - cell['gap_dense'])) < 1e-9
        else: assert cell['learned'] < MIN_SEEDS


def test_one_shipped_record_retrains_exactly(records):
    torch.set_num_threads(1)
    shipped = next(r for r in records if (r['task'], r['width'], r['density'], r['seed']) == ('easy_hard', 16, 0.5, 3))
    again = G.grid_job('easy_hard', 16, 0.5, 3)
    assert {k: v for k, v in again.items() if k != 'seconds'} == {k: v for k, v in shipped.items() if k != 'seconds'}


def test_a_grid_run_is_kept_and_resumed(tmp_path):
    jobs = G.grid_jobs(range(5), ['easy_hard'], {'easy_hard': [16]}, {'easy_hard': [1.0, 0.5]})
    first = G.run_grid(jobs, tmp_path, workers=1, progress=False)
    stamps = {p: os.stat(p).st_mtime_ns for p in tmp_path.iterdir()}
    assert len(stamps) == 10
    again = G.run_grid(jobs, tmp_path, workers=1, progress=False)
    assert again == first and {p: os.stat(p).st_mtime_ns for p in tmp_path.iterdir()} == stamps
    cell = G.grid_cell(first, 'easy_hard', 16, 0.5)
    assert cell['seeds'] == 5 and cell['learned'] == 5
    with pytest.raises(ValueError, match=r"expected at least 5 families with 3 or more learned networks"):
        G.dose_response(first)


def test_load_grid_refuses_other_files(tmp_path, records):
    path = tmp_path / 'grid.json'
    with pytest.raises(FileNotFoundError, match=r"no capstone grid here; `sparse-tutor ship-grid` makes it"):
        G.load_grid(path)
    path.write_text('{not json')
    with pytest.raises(ValueError, match=r"not a capstone grid file"):
        G.load_grid(path)
    stored = json.loads(G.GRID_PATH.read_text())
    path.write_text(json.dumps({**stored, 'learned_acc': 0.9}))
    with pytest.raises(ValueError, match=r"made for a different grid"):
        G.load_grid(path)


def test_the_shipped_code_gaps_are_well_formed():
    gaps = K.code_task_gaps()
    assert sorted(gaps) == [64, 128, 256]
    for width, row in gaps.items():
        assert row['diff_ci'][0] <= row['diff'] <= row['diff_ci'][1]
        assert abs(row['diff'] - (row['gap_sparse'] - row['gap_dense'])) < 1e-9
        assert row['prompts'] == 400 and row['networks']['sparse'] == (2 if width == 256 else 1)
        assert set(row['by_task']) == {'bracket_counting', 'single_double_quote', 'set_or_string'}
        assert row['attribution_check']['spearman'] > 0.5


def test_code_gaps_bad_input(tmp_path):
    with pytest.raises(ValueError, match=r"live: expected one of the shipped widths \[64, 128, 256\], got 32"):
        K.code_task_gaps(live=32)
    with pytest.raises(FileNotFoundError, match=r"`sparse-tutor ship-code-gaps` makes them"):
        K.code_task_gaps(path=tmp_path / 'none.json')
    with pytest.raises(ValueError, match=r"sparse: expected at least one sparse network"):
        K.compare_width({}, [])
    with pytest.raises(TypeError, match=r"model: expected a sparse_tutor Transformer"):
        K.node_scores(None, None, {})


def test_lesson07_findings_hold_the_grid_and_the_code_tasks():
    found = lesson07_findings()
    assert len(found['grid']) >= 12 and all(cell['seeds'] >= 10 for cell in found['grid'])
    assert set(found['dose_response']) == {'spearman', 'ci', 'families', 'by_task'}
    low, high = found['dose_response']['ci']
    assert low <= found['dose_response']['spearman'] <= high
    assert all(set(row) >= {'gap_dense', 'gap_sparse', 'diff', 'diff_ci'} for row in found['code_tasks'].values())


def test_cli_reports_bad_input_in_one_line(capsys):
    from sparse_tutor.cli import main
    for argv, message in ((['ship-grid', '--workers', '0'], 'sparse-tutor ship-grid: workers: expected an int >= 1, got 0'),
                          (['ship-code-gaps', '--widths', '32'],
                           'sparse-tutor ship-code-gaps: width: expected one of the frontier widths (64, 128, 256), got 32')):
        with pytest.raises(SystemExit) as exit: main(argv)
        err = capsys.readouterr().err
        assert exit.value.code == 1 and message in err and 'Traceback' not in err
