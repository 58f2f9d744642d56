"""core.engine: a grid of jobs gives the same results in one process, in two worker processes and on a Dask cluster;
results are saved as they arrive, a rerun skips them, and failed jobs are named after the batch."""
import json, os, re
from pathlib import Path

import pytest
from distributed import LocalCluster

from engine_jobs import needs_saved, tensor_result, train_linear
from sparse_tutor.core.engine import JobError, run_jobs

GRID = {f"seed={seed}": dict(seed=seed) for seed in range(4)}


@pytest.fixture(scope='module')
def in_process():
    "The grid run in this process, one job after another."
    return run_jobs(train_linear, GRID, workers=1, progress=False)


def _with_calls(grid: dict, calls_dir: Path, failing=()) -> dict:
    return {name: dict(kwargs, calls_dir=str(calls_dir), fail=name in failing) for name, kwargs in grid.items()}


def _callers(calls_dir: Path) -> dict:
    "{job name: [process id of each call]} from the files train_linear appends to."
    return {path.stem: [int(pid) for pid in path.read_text().split()] for path in sorted(calls_dir.glob('*.calls'))}


def test_in_process_run(in_process, tmp_path):
    assert list(in_process) == list(GRID)
    assert [result['seed'] for result in in_process.values()] == [0, 1, 2, 3]
    assert len({result['checksum'] for result in in_process.values()}) == len(GRID)
    for result in in_process.values():
        assert result['torch_threads'] == 1 and set(result['pool_threads']) <= {1}
    run_jobs(train_linear, _with_calls(GRID, tmp_path), workers=1, progress=False)
    assert _callers(tmp_path) == {name: [os.getpid()] for name in GRID}


def test_two_workers_equal_one(in_process, tmp_path):
    two = run_jobs(train_linear, _with_calls(GRID, tmp_path), workers=2, progress=False)
    assert two == in_process
    assert list(two) == list(GRID)
    callers = _callers(tmp_path)
    assert sorted(callers) == sorted(GRID)
    assert all(len(pids) == 1 and os.getpid() not in pids for pids in callers.values())


def test_dask_cluster_equals_local_run(in_process, tmp_path):
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host='127.0.0.1',
                      dashboard_address=None) as cluster:
        on_dask = run_jobs(train_linear, _with_calls(GRID, tmp_path), dask=cluster.scheduler_address, progress=False)
    assert on_dask == in_process
    assert list(on_dask) == list(GRID)
    callers = _callers(tmp_path)
    assert sorted(callers) == sorted(GRID)
    assert all(len(pids) == 1 and os.getpid() not in pids for pids in callers.values())


def test_results_saved_as_they_arrive(tmp_path):
    names = list(GRID)
    grid = {name: dict(seed=kwargs['seed'], saved=[str(tmp_path / f"{before}.json") for before in names[:i]])
            for i, (name, kwargs) in enumerate(GRID.items())}
    assert run_jobs(needs_saved, grid, results_dir=tmp_path, workers=1, progress=False) == {
        name: {'seed': kwargs['seed']} for name, kwargs in GRID.items()}
    assert sorted(path.name for path in tmp_path.iterdir()) == [f"{name}.json" for name in sorted(GRID)]


def test_failed_job_then_rerun_runs_only_it(in_process, tmp_path):
    results_dir, calls_dir = tmp_path / 'results', tmp_path / 'calls'
    calls_dir.mkdir()
    with pytest.raises(JobError) as failed:
        run_jobs(train_linear, _with_calls(GRID, calls_dir, failing={'seed=2'}), results_dir=results_dir, workers=2,
                 progress=False)
    assert failed.value.failures == {'seed=2': 'ValueError: seed 2 fails on purpose'}
    assert 'fails on purpose' in failed.value.tracebacks['seed=2']
    message = str(failed.value)
    assert '1 of 4 jobs failed' in message and 'seed=2: ValueError: seed 2 fails on purpose' in message
    assert f"kept in {results_dir}; a rerun with the same results_dir skips them" in message
    assert sorted(path.name for path in results_dir.iterdir()) == ['seed=0.json', 'seed=1.json', 'seed=3.json']
    assert json.loads((results_dir / 'seed=3.json').read_text()) == in_process['seed=3']

    rerun = run_jobs(train_linear, _with_calls(GRID, calls_dir), results_dir=results_dir, workers=2, progress=False)
    assert rerun == in_process
    assert {name: len(pids) for name, pids in _callers(calls_dir).items()} == {
        'seed=0': 1, 'seed=1': 1, 'seed=2': 2, 'seed=3': 1}
    again = run_jobs(train_linear, _with_calls(GRID, calls_dir), results_dir=results_dir, workers=2, progress=False)
    assert again == in_process
    assert sum(len(pids) for pids in _callers(calls_dir).values()) == 5


def test_progress_counts_saved_jobs_as_done(tmp_path, capsys):
    run_jobs(train_linear, {'seed=0': dict(seed=0)}, results_dir=tmp_path, workers=1, progress=False)
    run_jobs(train_linear, GRID, results_dir=tmp_path, workers=1, desc='frontier')
    bar = capsys.readouterr().err
    assert 'frontier' in bar and '1/4' in bar and '4/4' in bar and '0/4' not in bar


def test_failure_without_results_dir_says_nothing_was_kept():
    with pytest.raises(JobError, match=r"(?s)seed=0: ValueError.*were not kept: pass results_dir"):
        run_jobs(train_linear, {'seed=0': dict(seed=0, fail=True), 'seed=1': dict(seed=1)}, workers=1,
                 progress=False)


def test_result_that_is_not_json_names_the_job():
    with pytest.raises(TypeError, match=r"job 'seed=0': expected a JSON-able result.*Tensor"):
        run_jobs(tensor_result, {'seed=0': dict(seed=0)}, workers=1, progress=False)


def test_corrupt_result_file_names_it(tmp_path):
    (tmp_path / 'seed=0.json').write_text('{"loss": 0.')
    with pytest.raises(ValueError, match=r"seed=0\.json: not a job result .*delete it to run job 'seed=0' again"):
        run_jobs(train_linear, {'seed=0': dict(seed=0)}, results_dir=tmp_path, workers=1, progress=False)


def test_empty_grid():
    assert run_jobs(train_linear, {}, progress=False) == {}


@pytest.mark.parametrize('kwargs, error, message', [
    (dict(workers=0), ValueError, 'workers: expected an int >= 1, got 0'),
    (dict(workers='x'), TypeError, "workers: expected an int >= 1, got str 'x'"),
    (dict(workers=1.5), TypeError, 'workers: expected an int >= 1, got float 1.5'),
    (dict(dask=''), ValueError, "dask: expected a Dask scheduler address like tcp://HOST:PORT, got ''"),
    (dict(dask=8786), TypeError, 'dask: expected a Dask scheduler address like tcp://HOST:PORT, got int 8786'),
    (dict(dask='tcp://127.0.0.1'), ValueError, "got 'tcp://127.0.0.1'"),
    (dict(dask='tcp://127.0.0.1:8786', workers=2), ValueError, 'workers: expected None with dask'),
    (dict(results_dir=3), TypeError, 'results_dir: expected a folder path, got int 3'),
    (dict(progress='no'), TypeError, 'progress: expected a bool'),
])
def test_bad_settings(kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        run_jobs(train_linear, GRID, **kwargs)


@pytest.mark.parametrize('fn, jobs, error, message', [
    (train_linear, [('seed=0', {'seed': 0})], TypeError, 'jobs: expected a dict of job name'),
    (train_linear, {'seed 0': {'seed': 0}}, ValueError, "job name: expected 1-200 letters, digits or `_-.=`"),
    (train_linear, {'a/b': {'seed': 0}}, ValueError, "job name: expected .* got 'a/b'"),
    (train_linear, {0: {'seed': 0}}, TypeError, 'job name: expected a str, got int 0'),
    (train_linear, {'A': {'seed': 0}, 'a': {'seed': 1}}, ValueError, 'differ in more than case'),
    (train_linear, {'seed=0': 0}, TypeError,
     r"jobs\['seed=0'\]: expected a dict of keyword arguments for train_linear"),
    ('train_linear', GRID, TypeError, 'fn: expected a callable'),
])
def test_bad_jobs(fn, jobs, error, message):
    with pytest.raises(error, match=message):
        run_jobs(fn, jobs, workers=1, progress=False)


def test_unreachable_scheduler_names_the_address():
    with pytest.raises(ConnectionError, match=r"no Dask scheduler answered at tcp://127\.0\.0\.1:1 .*"
                                              r"Is the scheduler running\? `dask scheduler` prints its address"):
        run_jobs(train_linear, GRID, dask='tcp://127.0.0.1:1', progress=False)
