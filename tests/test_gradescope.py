"""Gradescope's run of an autograder zip, reproduced as closely as this machine allows, and its scores compared with
`sparse-tutor grade`'s.

For each assignment tested, the zip that `sparse-tutor assign` wrote is unpacked as Gradescope unpacks it
(`<root>/source/`, the submission in `<root>/submission/`, an empty `<root>/results/`); one fresh venv, outside the
repository, is built from the zip's own requirements (its environment.yml's pip list, with the wheel it ships) and
nothing else; the zip's own entry point (`source/run_otter.py`, which Gradescope's `run_autograder` runs once it has
activated the environment) grades the solutions, the untouched student notebook and a planted mistake in every question; and
`results/results.json` must give the same total and per-question scores as `grade_many` in this environment.

What it cannot reproduce: Gradescope's Ubuntu image and its `setup.sh` (apt packages, Miniforge, `mamba env create`
from environment.yml; here the venv's Python is this machine's 3.11, the one environment.yml names); torch comes from
the local CPU wheel when pip's configuration offers one, as scripts/_setup.sh installs it, instead of from the CPU index
that environment.yml names; and the zip's paths name `/autograder`, which the test replaces with its own folder.

The assignments tested: lessons 1 and 3 (SPARSE_TUTOR_GRADESCOPE_LESSONS="all", or "1 2 5", to choose). The venv's
build time and each submission's grading time are written to test-artifacts/gradescope.json."""
import json, os, re, shutil, subprocess, sys, time, zipfile
from pathlib import Path

import pytest
import yaml

from sparse_tutor.assignments import (GRADESCOPE_PYTHON, TORCH_CPU_INDEX, assignment_sources, build_assignments,
                                      grade_many, pins, plant_mistakes, planted_mistakes,
                                      mistake_rounds)

ROOT = Path(__file__).resolve().parent.parent
_CHOSEN = os.environ.get('SPARSE_TUTOR_GRADESCOPE_LESSONS', '1 3')
LESSONS = sorted(assignment_sources()) if _CHOSEN == 'all' else [int(x) for x in _CHOSEN.split()]
KINDS = ('solution', 'blank', 'wrong')
FIGURES = {'python': GRADESCOPE_PYTHON, 'lessons': LESSONS, 'grading_seconds': {}}


def _clean_env():
    "This environment's variables without anything that would put the repository on the venv's path."
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV')}
    return {**env, 'PYTHONNOUSERSITE': '1', 'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1'}


def _run(cmd, cwd, timeout=1800):
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, env=_clean_env(), capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _pip_list(zip_path) -> list:
    with zipfile.ZipFile(zip_path) as z: env = yaml.safe_load(z.read('environment.yml'))
    return next(d['pip'] for d in env['dependencies'] if isinstance(d, dict))


def _gradescope_root(build, submission, root) -> Path:
    "A folder laid out as Gradescope lays out /autograder: the zip in source/, the submission in submission/."
    for part in ('source', 'submission', 'results'): (root / part).mkdir(parents=True)
    with zipfile.ZipFile(build['autograder']) as z: z.extractall(root / 'source')
    shutil.copy(submission, root / 'submission' / build['student'].name)
    entry = root / 'source' / 'run_otter.py'
    text = entry.read_text()
    assert text.count('"/autograder"') == 1, text
    entry.write_text(text.replace('"/autograder"', json.dumps(str(root))))
    return root


@pytest.fixture(scope='module')
def built(tmp_path_factory):
    return build_assignments(out=tmp_path_factory.mktemp('dist'), lessons=LESSONS)


@pytest.fixture(scope='module')
def submissions(built, tmp_path_factory):
    "(lesson, kind) -> the submitted notebook: the solutions, the untouched student notebook, the planted mistake."
    tmp = tmp_path_factory.mktemp('submissions')
    subs = {}
    for lesson, b in built.items():
        subs[lesson, 'solution'] = b['solution']
        subs[lesson, 'blank'] = b['student']
        first = mistake_rounds(planted_mistakes(b['source']))[0]                # a planted mistake in every question
        subs[lesson, 'wrong'] = plant_mistakes(b, first, tmp / str(lesson) / b['student'].name)
    return subs


@pytest.fixture(scope='module')
def local(built, submissions, tmp_path_factory):
    "`sparse-tutor grade`'s results for every submission (grade_many in this environment)."
    keys = list(submissions)
    found = grade_many([submissions[k] for k in keys], autograder=None, out=built[LESSONS[0]]['autograder'].parent.parent,
                       jobs=2, results=tmp_path_factory.mktemp('local') / 'grades.jsonl', progress=False)
    return dict(zip(keys, found))


@pytest.fixture(scope='module')
def venv(built, tmp_path_factory):
    "One fresh venv, outside the repository, from the first zip's requirements and wheel only."
    tmp = tmp_path_factory.mktemp('gradescope_venv')
    first = built[LESSONS[0]]
    with zipfile.ZipFile(first['autograder']) as z: z.extractall(tmp / 'source')
    lines = [line.replace('file:///autograder/', f'file://{tmp}/') for line in _pip_list(first['autograder'])]
    started = time.perf_counter()
    _run([sys.executable, '-m', 'venv', tmp / 'venv'], cwd=tmp)
    py = tmp / 'venv' / 'bin' / 'python'
    torch = f"torch=={pins()['torch']}"
    # torch as scripts/_setup.sh installs it: the local CPU wheel when pip's configuration offers one, so the index
    # line is left out; else from the CPU wheel index that environment.yml names
    local_torch = subprocess.run([py, '-m', 'pip', 'install', '-q', '--no-index', '--no-deps', torch], cwd=tmp,
                                 env=_clean_env(), capture_output=True, text=True)
    if local_torch.returncode == 0: lines = [line for line in lines if not line.startswith('--extra-index-url')]
    (tmp / 'requirements.txt').write_text('\n'.join(lines) + '\n')
    _run([py, '-m', 'pip', 'install', '-q', '-r', tmp / 'requirements.txt'], cwd=tmp)
    FIGURES['venv_seconds'] = time.perf_counter() - started
    FIGURES['torch_from'] = 'local CPU wheel' if local_torch.returncode == 0 else TORCH_CPU_INDEX
    return py


def test_zip_follows_otters_gradescope_layout(built):
    for lesson, b in built.items():
        with zipfile.ZipFile(b['autograder']) as z:
            names = set(z.namelist())
            env = yaml.safe_load(z.read('environment.yml'))
            config = json.loads(z.read('otter_config.json'))
        assert {'run_autograder', 'run_otter.py', 'setup.sh', 'environment.yml', 'otter_config.json'} <= names
        assert f"files/{b['wheel']}" in names and any(n.startswith('tests/') for n in names)
        assert f'python={GRADESCOPE_PYTHON}' in env['dependencies'] and env['name'] == 'otter-env'
        pip = _pip_list(b['autograder'])
        assert pip[0] == 'otter-grader[grading,plugins]==7.0.0', pip
        assert f'--extra-index-url {TORCH_CPU_INDEX}' in pip
        assert f"torch=={pins()['torch']}+cpu" in pip and all(f'{k}=={v}' in pip for k, v in pins().items() if k != 'torch')
        assert f"sparse-tutor @ file:///autograder/source/files/{b['wheel']}" in pip
        assert config['assignment_name'].startswith(f'lesson{lesson:02d}')


def test_venv_has_only_the_zips_package(venv, tmp_path):
    "The venv imports sparse_tutor from the zip's wheel, never from the repository, and has CPU torch only."
    out = _run([venv, '-c', 'import sparse_tutor, torch, otter; print(sparse_tutor.__file__); print(torch.__version__);'
                            'print(torch.cuda.is_available())'], cwd=tmp_path)
    where, version, cuda = out.split()
    assert Path(where).is_relative_to(venv.parent.parent) and not Path(where).is_relative_to(ROOT), where
    assert version.split('+')[0] == pins()['torch'] and cuda == 'False'
    listed = _run([venv, '-m', 'pip', 'list', '--format=json'], cwd=tmp_path)
    assert not [p['name'] for p in json.loads(listed) if p['name'].lower().startswith('nvidia')]


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('lesson', LESSONS)
def test_gradescope_run_scores_as_sparse_tutor_grade(built, submissions, local, venv, lesson, kind, tmp_path):
    b, mine = built[lesson], local[lesson, kind]
    assert mine['status'] == 'graded', mine
    root = _gradescope_root(b, submissions[lesson, kind], tmp_path / 'autograder')
    started = time.perf_counter()
    _run([venv, root / 'source' / 'run_otter.py'], cwd=root)                # what run_autograder runs in otter-env
    FIGURES['grading_seconds'][f'{lesson}/{kind}'] = time.perf_counter() - started
    results = json.loads((root / 'results' / 'results.json').read_text())
    scored = {t['name']: t for t in results['tests'] if 'max_score' in t}
    assert {q: (t['score'], t['max_score']) for q, t in scored.items()} == \
           {q: (r['score'], r['possible']) for q, r in mine['questions'].items()}, results
    assert sum(t['score'] for t in scored.values()) == mine['score']
    possible = sum(q['points'] for q in b['questions'])
    expected = {'solution': possible, 'blank': 0.0}.get(kind)
    if expected is not None: assert mine['score'] == expected, mine
    else:
        keeps = {m['question']: m['keeps'] for m in mistake_rounds(planted_mistakes(b['source']))[0]}
        assert {q: t['score'] for q, t in scored.items()} == keeps, results   # each earns only what it gets right
    out = ROOT / 'test-artifacts' / 'gradescope.json'
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(FIGURES, indent=2) + '\n')
