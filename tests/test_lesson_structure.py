"""Every ✏️ exercise of every lesson has the four parts (what to build, why it matters, a hint, a self-check), the
exercises are numbered in reading order, and an exercise that asks for written words has a cell to write them in."""
import json, re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / 'nbs' / 'lessons').glob('[0-9][0-9]_*.ipynb'))
HEADING = re.compile(r'^###\s*✏️\s*Exercise\s+(\d+):\s*(.+)$', re.M)
WHAT = re.compile(r'\*\*(Build|Predict|Write|Find|Read|Decide|Explain|Measure|Choose|Answer|Compute)\b[^*]*\*\*')

def _exercises(path) -> list:
    "(number, title, text up to the next heading, index of its cell) of every exercise, in reading order."
    cells = json.loads(path.read_text())['cells']
    found = []
    for i, c in enumerate(cells):
        if c['cell_type'] != 'markdown': continue
        text = ''.join(c['source'])
        for m in HEADING.finditer(text):
            rest = text[m.end():]
            nxt = re.search(r'^#{1,3}\s', rest, re.M)
            found.append((int(m.group(1)), m.group(2).strip(), rest[:nxt.start()] if nxt else rest, i))
    return found, cells

@pytest.mark.parametrize('path', LESSONS, ids=[p.name[:2] for p in LESSONS])
def test_exercises_have_four_parts_in_reading_order(path):
    exercises, cells = _exercises(path)
    assert exercises, f'{path.name} has no ✏️ exercise'
    assert [n for n, *_ in exercises] == list(range(1, len(exercises) + 1)), \
        f'{path.name}: exercises numbered {[n for n, *_ in exercises]}'
    for n, title, text, _ in exercises:
        missing = [part for part, ok in (('what to build', WHAT.search(text)), ('why it matters', '**Why it matters**' in text),
                                         ('hint', '**Hint**' in text), ('self-check', '**Self-check**' in text)) if not ok]
        assert not missing, f'{path.name} exercise {n} ({title}) lacks {missing}'

@pytest.mark.parametrize('path', LESSONS, ids=[p.name[:2] for p in LESSONS])
def test_writing_exercises_have_a_cell_to_write_in(path):
    exercises, cells = _exercises(path)
    for n, title, text, i in exercises:
        if not re.search(r'\b(write (one|a|two|three)|two or three) (sentence|sentences|paragraph)', text, re.I): continue
        after = [''.join(c['source']) for c in cells[i + 1:i + 6] if c['cell_type'] == 'markdown']
        assert any(s.lstrip().startswith('✏️ *Your') for s in after), f'{path.name} exercise {n} ({title}): no cell to write in'

def test_lessons_5_and_6_ask_different_things():
    titles = {p.name[:2]: {t.lower() for _, t, *_ in _exercises(p)[0]} for p in LESSONS}
    assert not titles['05'] & titles['06'], titles['05'] & titles['06']
