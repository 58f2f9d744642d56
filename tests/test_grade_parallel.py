"""Grading a class in parallel (`grade_many`, `sparse-tutor grade --jobs`): a submission that crashes, one that kills its
kernel and one that never returns are each recorded with a clear entry while the others are graded; results are
written as they finish and a rerun resumes; bad arguments are refused before any work starts."""
import contextlib, io, json, os, time
from pathlib import Path

import pytest

from sparse_tutor.assignments import build_assignments, grade_many, read_results
from sparse_tutor.cli import main

TIMEOUT = 180          # seconds: above the solutions' grading time on a loaded 2-core machine, so only the hang hits it


def _notebook_with_first_cell(solution: Path, code: str, dest: Path) -> Path:
    nb = json.loads(solution.read_text())
    nb['cells'].insert(0, {'cell_type': 'code', 'metadata': {}, 'outputs': [], 'execution_count': None, 'source': code})
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(nb))
    return dest


@pytest.fixture(scope='module')
def built(tmp_path_factory):
    return build_assignments(out=tmp_path_factory.mktemp('dist'), lessons=[1])[1]


@pytest.fixture(scope='module')
def batch(built, tmp_path_factory):
    tmp = tmp_path_factory.mktemp('class')
    name = built['student'].name
    broken = tmp / 'broken' / name
    broken.parent.mkdir()
    broken.write_text('{"cells": [')                                           # not a notebook: its grader crashes
    pid_file = tmp / 'hang.pid'
    subs = {'solution': built['solution'],
            'broken': broken,
            'kills_kernel': _notebook_with_first_cell(built['solution'], 'import os\nos._exit(3)', tmp / 'kills' / name),
            'hangs': _notebook_with_first_cell(
                built['solution'], f'import os, time\nopen({str(pid_file)!r}, "w").write(str(os.getpid()))\n'
                                   'time.sleep(3600)', tmp / 'hangs' / name)}
    results = tmp / 'grades.jsonl'
    order = []
    found = grade_many(list(subs.values()), out=built['autograder'].parent.parent, jobs=2, timeout=TIMEOUT,
                       results=results, progress=False, on_result=lambda r: order.append(r['submission']))
    return {'subs': subs, 'results': results, 'found': dict(zip(subs, found)), 'order': order, 'pid_file': pid_file,
            'out': built['autograder'].parent.parent}


def test_failures_are_recorded_and_the_rest_graded(batch, built):
    found, possible = batch['found'], sum(q['points'] for q in built['questions'])
    assert found['solution']['status'] == 'graded' and found['solution']['score'] == possible, found['solution']
    assert found['broken']['status'] == 'crashed' and 'exited with status' in found['broken']['error']
    assert found['hangs']['status'] == 'timeout' and f'timeout of {TIMEOUT:g} s' in found['hangs']['error']
    assert found['kills_kernel']['status'] in ('crashed', 'error') and found['kills_kernel']['error'], found['kills_kernel']
    for kind in ('broken', 'hangs', 'kills_kernel'):
        assert found[kind]['score'] == 0 and found[kind]['possible'] == possible, found[kind]
    assert found['hangs']['seconds'] >= TIMEOUT
    assert batch['order'][-1] == str(batch['subs']['hangs'].resolve())        # the others did not wait for it
    assert found['solution']['peak_rss_mb']['kernel'] > found['solution']['peak_rss_mb']['grader'] / 10 > 0


def test_the_hung_kernel_is_stopped_too(batch):
    pid = int(batch['pid_file'].read_text())
    deadline = time.time() + 15                                               # its poller checks once a second
    while time.time() < deadline:
        try: os.kill(pid, 0)
        except ProcessLookupError: return
        time.sleep(0.5)
    raise AssertionError(f'the hung kernel (pid {pid}) is still running')


def test_results_are_written_as_they_finish_and_a_rerun_resumes(batch, tmp_path):
    lines = batch['results'].read_text().splitlines()
    assert [json.loads(line)['submission'] for line in lines] == batch['order']    # in the order they finished
    again = []
    rerun = grade_many(list(batch['subs'].values()), out=batch['out'], jobs=2, timeout=TIMEOUT,
                       results=batch['results'], progress=False, on_result=again.append)
    assert again == [] and rerun == list(batch['found'].values())
    # an interrupted run: the crashed submission's line lost, the last line cut in the middle
    broken = str(batch['subs']['broken'].resolve())
    cut = tmp_path / 'grades.jsonl'
    kept = [line for line in lines if json.loads(line)['submission'] != broken]
    cut.write_text('\n'.join(kept) + '\n' + kept[-1][:40])
    assert len(read_results(cut)) == len(kept)
    resumed = grade_many(list(batch['subs'].values()), out=batch['out'], jobs=2, timeout=TIMEOUT, results=cut,
                         progress=False, on_result=again.append)
    assert [r['submission'] for r in again] == [broken]                       # only what was missing
    assert [r['status'] for r in resumed] == [r['status'] for r in batch['found'].values()]
    assert len(read_results(cut)) == len(lines)


def test_the_command_reports_and_resumes(batch, capsys):
    with pytest.raises(SystemExit) as e:
        main(['grade', str(batch['subs']['solution']), str(batch['subs']['broken']), '--out', str(batch['out']),
              '--results', str(batch['results']), '--jobs', '2'])
    out = capsys.readouterr().out
    assert e.value.code == 1, out                                             # a submission could not be graded
    assert '2 submission(s): 0 graded now, 2 already in' in out and '1 graded, 0 error, 1 crashed, 0 timeout' in out


@pytest.mark.parametrize('argv, says', [
    (['--jobs', '0'], 'jobs: expected an int >= 1, got 0'),
    (['--jobs', '-2'], 'jobs: expected an int >= 1, got -2'),
    (['--timeout', '0'], 'timeout: expected a number of seconds > 0, got 0'),
    (['--timeout', '-1'], 'timeout: expected a number of seconds > 0, got -1'),
])
def test_bad_numbers_are_refused(argv, says, batch):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as e:
        main(['grade', str(batch['subs']['solution']), '--out', str(batch['out']), *argv])
    assert e.value.code == 2 and says in err.getvalue(), err.getvalue()


def test_bad_paths_are_refused(batch, tmp_path):
    empty = tmp_path / 'empty'
    empty.mkdir()
    cases = [([str(tmp_path / 'missing_dir')], 'which does not exist'),
             ([str(empty)], 'holds no .ipynb or .zip file'),
             ([str(batch['subs']['solution']), '--out', str(tmp_path)], 'cannot tell which assignment'),
             ([str(batch['subs']['solution']), '--out', str(batch['out']), '--results', str(tmp_path)], 'is not a file')]
    for argv, says in cases:
        err = io.StringIO()
        with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as e: main(['grade', *argv])
        assert e.value.code == 2 and says in err.getvalue(), (argv, err.getvalue())
    with pytest.raises(TypeError, match='jobs: expected an int'): grade_many(batch['subs']['solution'], jobs=1.5)
    with pytest.raises(TypeError, match='on_result'): grade_many(batch['subs']['solution'], on_result='print')
