"""Every assignment builds with otter and grades locally without Docker: its solutions get full marks, the untouched
student notebook gets zero, every planted mistake earns only the points of what it gets right and gets a message that
names it, format-only tests carry no points, no lesson solution answers an assignment question, and the student
notebook runs in a plain Jupyter kernel, its `grader.check` cells reporting failures without crashing.

The points each planted mistake earns are written to test-artifacts/assignment_scores.json."""
import ast, json, re, shutil
from pathlib import Path

import pytest

from sparse_tutor.assignments import (assignment_sources, build_assignments, grade, planted_mistakes, mistake_rounds,
                                      plant_mistakes, assignment_scores, format_scores, questions, find_autograder,
                                      report, _source_tests)

ROOT = Path(__file__).resolve().parent.parent
SOURCES = assignment_sources()
LESSONS = sorted(SOURCES)
ARTIFACT = ROOT / 'test-artifacts' / 'assignment_scores.json'

@pytest.fixture(scope='module')
def built(tmp_path_factory):
    return build_assignments(out=tmp_path_factory.mktemp('dist'))

@pytest.fixture(scope='module')
def scores(built):
    "lesson -> assignment_scores: the solutions, the blank notebook and every planted mistake, graded once."
    graded = {}
    def get(lesson):
        if lesson not in graded:
            graded[lesson] = assignment_scores(built[lesson])
            ARTIFACT.parent.mkdir(exist_ok=True)
            old = json.loads(ARTIFACT.read_text()) if ARTIFACT.is_file() else {}
            old[str(lesson)] = {k: v for k, v in graded[lesson].items() if k != 'mistakes'} | {
                'mistakes': [{k: m[k] for k in ('question', 'why', 'keeps', 'earned', 'question_points', 'score',
                                                'named')} for m in graded[lesson]['mistakes']]}
            ARTIFACT.write_text(json.dumps(old, indent=1) + '\n')
        return graded[lesson]
    return get

def _tests(source) -> list:
    "(question, test function name, config text) of every test cell of an assignment source."
    found = []
    for cfg, texts in _source_tests(json.loads(Path(source).read_text())):
        for text in texts:
            config = re.search(r'BEGIN TEST CONFIG(.*?)END TEST CONFIG', text, re.S)
            found.append((cfg['name'], re.search(r'^def (\w+)', text, re.M).group(1), config.group(1) if config else ''))
    return found

def test_every_lesson_has_an_assignment():
    lessons = {int(p.name[:2]) for p in (ROOT / 'nbs' / 'lessons').glob('[0-9][0-9]_*.ipynb')}
    assert lessons == set(LESSONS), sorted(lessons ^ set(LESSONS))

@pytest.mark.parametrize('lesson', LESSONS)
def test_source_has_graded_questions_and_planted_mistakes(lesson):
    qs = questions(SOURCES[lesson])
    assert len(qs) >= 3, f'lesson {lesson}: at least three graded questions'
    for q in qs: assert q['points'] > 0 and q['hidden'] >= 1 and q['tests'] > q['hidden'], q   # public and hidden tests
    mistakes = planted_mistakes(SOURCES[lesson])                         # valid, and at least one per question
    assert {m['question'] for m in mistakes} == {q['question'] for q in qs}
    assert len({m['why'] for m in mistakes}) == len(mistakes), 'each planted mistake is a different mistake'

@pytest.mark.parametrize('lesson', LESSONS)
def test_format_tests_carry_no_points(lesson):
    "A test that checks only an answer's form is public and worth 0; every question's points go to other tests."
    tests = _tests(SOURCES[lesson])
    for question, name, config in tests:
        points = re.search(r'points:\s*([\d.]+)', config)
        if '_form' in name:
            assert points and float(points.group(1)) == 0 and 'hidden: true' not in config, (lesson, name, config)
    for q in questions(SOURCES[lesson]):
        scored = [n for question, n, config in tests if question == q['question'] and '_form' not in n
                  and not re.search(r'points:\s*0(\.0*)?\s*$', config, re.M)]
        assert scored, f"lesson {lesson} {q['question']}: no test carries its points"

def _normalised_defs_and_assigns(code: str) -> tuple:
    "Function bodies with every name renamed in order of appearance, and top-level assignments, as comparable text."
    tree = ast.parse(code)
    bodies = set()
    for fn in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
        names = {}
        class Rename(ast.NodeTransformer):
            def visit_Name(self, node):
                node.id = names.setdefault(node.id, f'v{len(names)}'); return node
            def visit_arg(self, node):
                node.arg = names.setdefault(node.arg, f'v{len(names)}'); return node
        fn = Rename().visit(ast.parse(ast.unparse(fn)).body[0])
        bodies.add(ast.dump(ast.Module(body=fn.body, type_ignores=[])))
    assigns = {ast.dump(n): ast.unparse(n) for n in tree.body if isinstance(n, ast.Assign)}
    return bodies, assigns

@pytest.mark.parametrize('lesson', LESSONS)
def test_no_lesson_solution_answers_an_assignment_question(built, lesson):
    "The lesson's reference solutions are readable by students: no assignment answer may be one of them."
    solution_cells = [''.join(c['source']) for c in json.loads(built[lesson]['solution'].read_text())['cells']
                      if c['cell_type'] == 'code']
    code = '\n'.join(re.sub(r'^\s*(%|!).*$', '', c, flags=re.M) for c in solution_cells)
    bodies, assigns = _normalised_defs_and_assigns(code)
    for path in sorted((ROOT / 'solutions').glob('[0-9][0-9]_*.py')):
        lesson_bodies, lesson_assigns = _normalised_defs_and_assigns(path.read_text())
        assert not bodies & lesson_bodies, f"an answer of assignment {lesson} is a function of {path.name}"
        same = [assigns[a] for a in assigns.keys() & lesson_assigns.keys()]
        assert not same, f"answers of assignment {lesson} are assignments of {path.name}: {same}"

def _lesson_answers(lesson: int) -> tuple:
    "The lesson's reference solutions: {function name: (number of parameters, source with its imports)}, {name: statement}."
    path = next((ROOT / 'solutions').glob(f'{lesson:02d}_*.py'))
    tree = ast.parse(path.read_text())
    imports = '\n'.join(ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom)))
    functions = {n.name: (len(n.args.args), n) for n in tree.body if isinstance(n, ast.FunctionDef)}
    assigns = {n.targets[0].id: ast.unparse(n) for n in tree.body
               if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name)}
    return imports, functions, assigns

def _lesson_answer_swaps(b: dict) -> list:
    """Each way of answering an assignment question with the lesson's reference solution, as a planted mistake: every
    top-level function of the solutions replaced by each lesson function with as many parameters, and every answer
    named like a lesson answer replaced by the lesson's statement."""
    imports, functions, assigns = _lesson_answers(b['lesson'])
    cells = [''.join(c['source']) for c in json.loads(b['solution'].read_text())['cells'] if c['cell_type'] == 'code']
    swaps, question = [], None
    for text in reversed(cells):                                  # a question's cells come before its grader.check
        check = re.search(r'grader\.check\("(\w+)"\)', text)
        if check: question = check.group(1); continue
        if question is None: continue
        try: tree = ast.parse(text)
        except SyntaxError: continue
        lines = text.splitlines()
        for node in tree.body:
            find = '\n'.join(lines[node.lineno - 1:node.end_lineno])
            if isinstance(node, ast.FunctionDef):
                for name, (n_params, fn) in functions.items():
                    if n_params != len(node.args.args): continue
                    renamed = ast.parse(ast.unparse(fn)).body[0]
                    renamed.name = node.name
                    swaps.append({'question': question, 'find': find, 'replace': imports + '\n' + ast.unparse(renamed),
                                  'why': f'the lesson\'s {name} as {node.name}'})
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                    and node.targets[0].id in assigns:
                swaps.append({'question': question, 'find': find, 'replace': assigns[node.targets[0].id],
                              'why': f'the lesson\'s {node.targets[0].id}'})
    return swaps

@pytest.mark.parametrize('lesson', LESSONS)
def test_lesson_solutions_do_not_answer_the_assignment(built, lesson, tmp_path):
    """Students can read the lessons' reference solutions: dropped into the assignment in place of an answer, each one
    loses points on that answer's question (graded, in rounds of one per question)."""
    from sparse_tutor.assignments import grade_many
    b = built[lesson]
    swaps = _lesson_answer_swaps(b)
    if not swaps: return                                # no lesson answer has the shape of an assignment answer
    rounds = mistake_rounds(swaps)
    subs = [plant_mistakes(b, r, tmp_path / f'round{i}' / b['student'].name) for i, r in enumerate(rounds)]
    runs = grade_many(subs, autograder=b['autograder'], results=tmp_path / 'grades.jsonl', progress=False)
    for r, run in zip(rounds, runs):
        assert run['status'] == 'graded', run['error']
        for swap in r:
            q = run['questions'][swap['question']]
            assert q['score'] < q['possible'], f"assignment {lesson} {swap['question']}: {swap['why']} gets full marks"

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
def test_solutions_get_full_marks_and_the_blank_notebook_zero(built, scores, lesson):
    s = scores(lesson)
    assert s['solution'] == s['possible'] == sum(q['points'] for q in built[lesson]['questions']), format_scores(s)
    assert s['blank'] == 0, format_scores(s)

@pytest.mark.parametrize('lesson', LESSONS)
def test_each_planted_mistake_earns_only_what_it_gets_right(scores, lesson):
    s = scores(lesson)
    print(format_scores(s))
    for m in s['mistakes']:
        assert m['earned'] == m['keeps'] < m['question_points'], format_scores(s)
        assert m['score'] == s['possible'] - m['question_points'] + m['keeps']
        assert m['named'], f"{m['why']}: no failure message says {m['says']!r}: {m['failures']}"
        for msg in m['failures']:                                         # readable: the assertion's own sentence
            last = msg.strip().splitlines()[-1]
            assert re.match(r'(AssertionError|\w+Error): \S.{15,}', last), msg
            assert 'Traceback' not in msg

def test_planted_mistakes_refuse_bad_metadata(tmp_path):
    nb = json.loads(SOURCES[LESSONS[0]].read_text())
    good = nb['metadata']['sparse_tutor']['mistakes']
    first = good[0]
    cases = {'missing': None, 'empty': [], 'key': [{k: v for k, v in first.items() if k != 'says'}] + good[1:],
             'question': [{**first, 'question': 'q99'}] + good[1:],
             'keeps': [{**first, 'keeps': 1000}] + good[1:],
             'unchanged': [{**first, 'replace': first['find']}] + good[1:],
             'uncovered': [m for m in good if m['question'] != first['question']]}
    for case, mistakes in cases.items():
        nb['metadata']['sparse_tutor']['mistakes'] = mistakes
        path = tmp_path / f'{case}.ipynb'
        path.write_text(json.dumps(nb))
        with pytest.raises(ValueError) as e: planted_mistakes(path)
        assert str(path.name) in str(e.value), (case, e.value)
    with pytest.raises(ValueError, match='expected an existing notebook'): planted_mistakes(tmp_path / 'none.ipynb')

def test_plant_mistakes_refuses_bad_input(built, tmp_path):
    b = built[LESSONS[0]]
    with pytest.raises(TypeError, match='build'): plant_mistakes('x', [], tmp_path / 'a.ipynb')
    with pytest.raises(TypeError, match='mistakes'): plant_mistakes(b, 'q1', tmp_path / 'a.ipynb')
    with pytest.raises(ValueError, match='occurs in 0 solution cells'):
        plant_mistakes(b, [{'find': 'no such text anywhere', 'replace': 'x'}], tmp_path / 'a.ipynb')
    assert not (tmp_path / 'a.ipynb').exists()
    with pytest.raises(TypeError, match='build'): assignment_scores({'name': 'x'})
    rounds = mistake_rounds(planted_mistakes(SOURCES[LESSONS[0]]))
    assert all(len({m['question'] for m in r}) == len(r) for r in rounds)

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

def test_assign_mistakes_refuses_bad_jobs(tmp_path, capsys):
    from sparse_tutor.cli import main
    with pytest.raises(SystemExit) as e:
        main(['assign', '--lessons', str(LESSONS[0]), '--no-check', '--mistakes', '--jobs', '0', '--out', str(tmp_path)])
    status = e.value.code
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 1 and len(err) == 1 and 'jobs' in err[0], err
