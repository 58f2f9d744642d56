"""Every assignment builds with otter and grades locally without Docker: its solutions get full marks, the untouched
student notebook gets zero, a plausible wrong answer loses only its question (with a readable message), and the student
notebook runs in a plain Jupyter kernel, its `grader.check` cells reporting failures without crashing."""
import json, re, shutil
from pathlib import Path

import pytest

from sparse_tutor.assignments import (assignment_sources, build_assignments, grade, plant_wrong_answer, questions,
                                      wrong_answer_spec, find_autograder, report)

ROOT = Path(__file__).resolve().parent.parent
SOURCES = assignment_sources()
LESSONS = sorted(SOURCES)

@pytest.fixture(scope='module')
def built(tmp_path_factory):
    return build_assignments(out=tmp_path_factory.mktemp('dist'))

def test_every_lesson_has_an_assignment():
    lessons = {int(p.name[:2]) for p in (ROOT / 'nbs' / 'lessons').glob('[0-9][0-9]_*.ipynb')}
    assert {1, 2, 3, 4, 5, 6} <= lessons and lessons <= set(LESSONS), sorted(lessons - set(LESSONS))

@pytest.mark.parametrize('lesson', LESSONS)
def test_source_has_graded_questions_and_a_planted_mistake(lesson):
    qs = questions(SOURCES[lesson])
    assert len(qs) >= 3, f'lesson {lesson}: at least three graded questions'
    for q in qs: assert q['points'] > 0 and q['hidden'] >= 1 and q['tests'] > q['hidden'], q   # public and hidden tests
    spec = wrong_answer_spec(SOURCES[lesson])
    assert spec['question'] in {q['question'] for q in qs} and spec['find'] != spec['replace']

@pytest.mark.parametrize('lesson', LESSONS)
def test_build_outputs(built, lesson):
    b = built[lesson]
    assert b['questions'] == questions(SOURCES[lesson])                  # the zip holds every test, hidden ones too
    stu = json.loads(b['student'].read_text())
    code = '\n'.join(''.join(c['source']) for c in stu['cells'] if c['cell_type'] == 'code')
    assert 'SOLUTION' not in code and 'sparse_tutor' not in stu['metadata']
    for q in b['questions']: assert f'grader.check("{q["question"]}")' in code
    public = stu['metadata']['otter']['tests']
    assert set(public) == {q['question'] for q in b['questions']}
    assert all('hidden=False' in t and 'hidden=True' not in t for t in public.values())
    assert find_autograder(b['student'], b['autograder'].parent.parent) == b['autograder']

@pytest.mark.parametrize('lesson', LESSONS)
def test_solutions_get_full_marks(built, lesson):
    b = built[lesson]
    r = grade(b['solution'], b['autograder'])
    assert r['error'] is None
    assert r['score'] == r['possible'] == sum(q['points'] for q in b['questions']), report(r)

@pytest.mark.parametrize('lesson', LESSONS)
def test_untouched_student_notebook_gets_zero(built, lesson):
    b = built[lesson]
    r = grade(b['student'], b['autograder'])
    assert r['possible'] == sum(q['points'] for q in b['questions'])
    assert r['score'] == 0, report(r)
    assert all(len(q['failures']) == t['tests'] for q, t in zip(r['questions'].values(), b['questions']))

@pytest.mark.parametrize('lesson', LESSONS)
def test_plausible_wrong_answer_fails_only_its_question(built, lesson, tmp_path):
    b = built[lesson]
    spec = wrong_answer_spec(SOURCES[lesson])
    sub = plant_wrong_answer(b, tmp_path / b['student'].name)
    r = grade(sub, b['autograder'])
    bad = r['questions'][spec['question']]
    assert not bad['passed'] and bad['score'] < bad['possible'], report(r)
    assert all(q['passed'] for name, q in r['questions'].items() if name != spec['question']), report(r)
    for msg in bad['failures']:                                           # readable: the assertion's own sentence
        last = msg.strip().splitlines()[-1]
        assert re.match(r'(AssertionError|\w+Error): \S.{15,}', last), msg
        assert 'Traceback' not in msg

@pytest.mark.parametrize('lesson', LESSONS)
def test_student_notebook_runs_in_a_plain_kernel(built, lesson, tmp_path):
    "Open the handed-out notebook in a fresh python3 kernel and run it top to bottom: no cell raises, every check reports."
    import nbformat
    from nbclient import NotebookClient
    b = built[lesson]
    work = tmp_path / 'student'
    shutil.copytree(b['student'].parent, work)
    path = work / b['student'].name
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, kernel_name='python3', timeout=300, allow_errors=False, resources={'metadata': {'path': str(work)}}).execute()
    checks = [c for c in nb.cells if c.cell_type == 'code' and 'grader.check(' in c.source]
    assert len(checks) == len(b['questions'])
    for c in checks:
        assert not any(o.output_type == 'error' for o in c.outputs)
        text = json.dumps([o.get('data', {}).get('text/plain', '') + o.get('text', '') for o in c.outputs])
        assert 'failed' in text.lower(), f'the check cell {c.source!r} did not report the failure: {text[:300]}'
    zips = sorted(work.glob(f"{b['name']}*.zip"))                      # the export cell wrote the hand-in zip
    assert len(zips) == 1, sorted(p.name for p in work.iterdir())
    if lesson == LESSONS[-1]:                                              # collecting the zip instead of the notebook works too
        r = grade(zips[0], out=b['autograder'].parent.parent)
        assert r['error'] is None and r['score'] == 0 and r['possible'] == sum(q['points'] for q in b['questions']), report(r)
