"""The installable course: a wheel built with `python -m build` carries the assignment sources, the lessons and
constraints.txt; installed into a fresh venv outside the repository, `sparse-tutor lessons`, `sparse-tutor assign
--lessons 1` and `sparse-tutor grade` work from it alone. The wheel's size and the venv's build time are written to
test-artifacts/wheel.json."""
import json, os, subprocess, sys, time, zipfile
from pathlib import Path

import pytest

from sparse_tutor.assignments import assignment_sources, pins

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted(p.name for p in (ROOT / 'nbs' / 'lessons').glob('[0-9][0-9]_*.ipynb'))


def _env():
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV')}
    return {**env, 'PYTHONNOUSERSITE': '1', 'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1'}


def _run(cmd, cwd, ok=True, timeout=1800):
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)
    if ok: assert done.returncode == 0, f"{cmd} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp('wheel')
    _run([sys.executable, '-m', 'build', '--wheel', '--outdir', out, ROOT], cwd=out)
    (found,) = out.glob('sparse_tutor-*-py3-none-any.whl')
    return found


@pytest.fixture(scope='module')
def venv(wheel, tmp_path_factory):
    "A fresh venv outside the repository with the wheel and its grade extra; torch as scripts/_setup.sh installs it."
    tmp = tmp_path_factory.mktemp('wheel_venv')
    started = time.perf_counter()
    _run([sys.executable, '-m', 'venv', tmp / 'venv'], cwd=tmp)
    py = tmp / 'venv' / 'bin' / 'python'
    torch = f"torch=={pins()['torch']}"
    if _run([py, '-m', 'pip', 'install', '-q', '--no-index', '--no-deps', torch], cwd=tmp, ok=False).returncode:
        _run([py, '-m', 'pip', 'install', '-q', torch, '--index-url', 'https://download.pytorch.org/whl/cpu'], cwd=tmp)
    _run([py, '-m', 'pip', 'install', '-q', '-c', ROOT / 'constraints.txt', f'{wheel}[grade]'], cwd=tmp)
    figures = {'wheel': wheel.name, 'wheel_mb': wheel.stat().st_size / 1e6, 'venv_seconds': time.perf_counter() - started}
    (ROOT / 'test-artifacts').mkdir(exist_ok=True)
    (ROOT / 'test-artifacts' / 'wheel.json').write_text(json.dumps(figures, indent=2) + '\n')
    return py


def test_wheel_carries_the_course(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f'sparse_tutor/course/assignments/{p.name}' for p in assignment_sources().values()} <= names
    assert {f'sparse_tutor/course/lessons/{name}' for name in LESSONS} <= names and len(LESSONS) == 7
    assert 'sparse_tutor/course/constraints.txt' in names and 'sparse_tutor/assignments.py' in names
    assert not [n for n in names if '/dist/' in n or '__pycache__' in n or n.endswith('.py') and '/course/' in n]


def test_installed_course_assigns_grades_and_hands_out_lessons(wheel, venv, tmp_path):
    bin_ = venv.parent
    where = _run([venv, '-c', 'import sparse_tutor; print(sparse_tutor.__file__)'], cwd=tmp_path).stdout.strip()
    assert not Path(where).is_relative_to(ROOT), where
    lessons = _run([bin_ / 'sparse-tutor', 'lessons', 'course'], cwd=tmp_path).stdout.split()
    assert sorted(Path(p).name for p in lessons) == LESSONS
    with zipfile.ZipFile(wheel) as z:                                         # the copies the wheel carries
        assert all((tmp_path / 'course' / name).read_bytes() == z.read(f'sparse_tutor/course/lessons/{name}')
                   for name in LESSONS)
    again = _run([bin_ / 'sparse-tutor', 'lessons', 'course'], cwd=tmp_path, ok=False)
    assert again.returncode == 2 and '--force' in again.stderr

    assign = _run([bin_ / 'sparse-tutor', 'assign', '--lessons', '1'], cwd=tmp_path).stdout
    assert 'the solutions got full marks' in assign, assign
    built = tmp_path / 'assignments' / 'dist' / '01_what_analysis_sees'
    student, zip_path = built / 'student' / '01_what_analysis_sees.ipynb', built / '01_what_analysis_sees-autograder.zip'
    with zipfile.ZipFile(zip_path) as z:
        shipped = [n for n in z.namelist() if n.startswith('files/sparse_tutor-')]
        assert len(shipped) == 1, z.namelist()
        z.extract(shipped[0], tmp_path)
    inner = set(zipfile.ZipFile(tmp_path / shipped[0]).namelist())            # the installed package, repacked
    assert {f'sparse_tutor/course/lessons/{name}' for name in LESSONS} <= inner

    graded = _run([bin_ / 'sparse-tutor', 'grade', student, '--jobs', '1', '--results', 'grades.jsonl'], cwd=tmp_path)
    assert '1 submission(s): 1 graded now' in graded.stdout, graded.stdout
    (result,) = [json.loads(line) for line in (tmp_path / 'grades.jsonl').read_text().splitlines()]
    assert result['status'] == 'graded' and result['score'] == 0 and result['possible'] > 0, result
