"""Every lesson in a real browser: JupyterLab and Notebook 7 in headless Chromium (Debian's chromium, driven by
playwright), every cell run with the app's own run-all command.

For each lesson notebook found by nbs/lessons/[0-9][0-9]_*.ipynb, and each app:
- every code cell runs and none shows an error;
- every widget the lesson displays renders (a view element for each widget output, none broken or still loading);
- every ipywidgets slider, moved one step with the real keyboard (JupyterLab: focus the handle, press an arrow key)
  and with the real mouse (drag the handle), changes the numbers the notebook displays;
- every circuit-graph node, i.e. an element carrying a `data-node` attribute in the outputs (the course's anywidget
  graph marks its clickable nodes this way), clicked with the mouse, changes the text the notebook displays.
"Displayed" means the text of all of the notebook's outputs, without the controls' own readouts and labels.

A screenshot of each lesson, taken after its controls were used, goes to test-artifacts/browser/.
A missing chromium or playwright fails these tests; it never skips them. The lessons are copied to a temporary
directory first, and the profile turns autosave off, so a run never writes into nbs/.
"""
import json
import shutil
from pathlib import Path

import pytest

from sparse_tutor.bench import (JupyterServer, chromium, open_notebook, run_all, shutdown_kernel, sliders, graph_nodes,
                                move_slider, click_node, displayed_numbers, slider_browser_ms, wait_kernel_idle)

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
LESSONS = sorted((REPO / 'nbs' / 'lessons').glob('[0-9][0-9]_*.ipynb'))
ARTIFACTS = REPO / 'test-artifacts' / 'browser'
APPS = ['lab', 'notebook']       # JupyterLab and Notebook 7


def test_lessons_are_found():
    assert len(LESSONS) >= 2, f"no lesson notebooks under {REPO / 'nbs' / 'lessons'}"


@pytest.fixture(scope='module')
def served(tmp_path_factory):
    "A copy of nbs/ (lessons keep their relative paths); the servers serve its lessons/."
    root = tmp_path_factory.mktemp('served') / 'nbs'
    shutil.copytree(REPO / 'nbs', root, ignore=shutil.ignore_patterns('.ipynb_checkpoints', '_proc', '_docs'))
    return root / 'lessons'


@pytest.fixture(scope='module')
def browser():
    with chromium() as b:
        yield b


@pytest.fixture(scope='module')
def servers(served):
    started = {}
    def get(app):
        if app not in started: started[app] = JupyterServer(served, app).start()
        return started[app]
    yield get
    for s in started.values(): s.stop()


class LessonRun:
    def __init__(self, app, lesson, page, report, server):
        self.app, self.lesson, self.page, self.report, self.server = app, lesson, page, report, server

    def screenshot(self):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        wait_kernel_idle(self.page)
        first = self.page.locator('.jp-OutputArea-output > .jupyter-widgets, .jp-OutputArea-output [data-node]').first
        if first.count(): first.scroll_into_view_if_needed()
        self.page.screenshot(path=str(ARTIFACTS / f'{self.app}-{self.lesson}.png'))


@pytest.fixture(scope='module', params=[(a, p.name) for a in APPS for p in LESSONS],
                ids=[f'{a}-{p.stem}' for a in APPS for p in LESSONS])
def ran(request, servers, browser):
    "The lesson opened in the app and run top to bottom (once per lesson and app, shared by the tests below)."
    app, name = request.param
    server = servers(app)
    page = browser.new_page(viewport={'width': 1400, 'height': 1000})
    console_errors = []
    page.on('console', lambda m: console_errors.append(m.text) if m.type == 'error' else None)
    try:
        open_notebook(page, server, name)
        report = run_all(page, timeout=600)
    except Exception as e:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f'{app}-{Path(name).stem}-failed.png'))
        page.close()
        raise RuntimeError(f"{name} did not open and run in {app}: {e}\n--- server log ---\n{server.log()}") from e
    run = LessonRun(app, Path(name).stem, page, report, server)
    run.console_errors = console_errors
    run.screenshot()
    yield run
    run.screenshot()                   # after the controls were used
    shutdown_kernel(page)
    page.close()


def test_every_cell_runs_without_error(ran):
    r = ran.report
    assert r['errors'] == [], f"{ran.lesson} in {ran.app}: cells show errors: {r['errors']}"
    assert r['code_cells'] > 0 and r['executed'] == r['code_cells'], \
        f"{ran.lesson} in {ran.app}: {r['executed']} of {r['code_cells']} code cells ran"


def test_every_widget_renders(ran):
    r = ran.report
    assert r['broken'] == [], f"{ran.lesson} in {ran.app}: widgets failed to render: {r['broken']}"
    assert r['widget_views_rendered'] == r['widget_views'], \
        f"{ran.lesson} in {ran.app}: {r['widget_views']} widget outputs but {r['widget_views_rendered']} rendered views"
    widget_errors = [t for t in ran.console_errors if 'widget' in t.lower() or 'anywidget' in t.lower()]
    assert widget_errors == [], f"{ran.lesson} in {ran.app}: widget errors in the browser console: {widget_errors}"


def _check_move(ran, what, r):
    assert r['changed'], f"{ran.lesson} in {ran.app}: {what} changed nothing the notebook displays"
    assert r['numbers_changed'], (f"{ran.lesson} in {ran.app}: {what} changed the text but not its numbers:\n"
                                  f"before: {r['before'][-400:]}\nafter: {r['after'][-400:]}")


def test_sliders_change_the_displayed_numbers(ran):
    handles = sliders(ran.page)
    n = handles.count()
    if n == 0: pytest.skip(f"{ran.lesson} displays no slider")
    # Notebook 7 (7.6) takes arrow keys at the document before they reach an ipywidgets slider: there, the mouse only.
    ways = ['keyboard', 'mouse'] if ran.app == 'lab' else ['mouse']
    for i in range(n):
        h = handles.nth(i)
        lo, hi = float(h.get_attribute('aria-valuemin')), float(h.get_attribute('aria-valuemax'))
        for how in ways:
            before = float(h.get_attribute('aria-valuenow'))
            r = move_slider(ran.page, h, how=how, timeout=5)
            assert float(h.get_attribute('aria-valuenow')) != before, f"{ran.lesson}: slider {i} did not move with the {how}"
            if not r['numbers_changed']:     # one step of a slider that matters little may not show: go to the end
                r = move_slider(ran.page, h, how=how, far=True, direction='left' if before > lo else 'right')
            _check_move(ran, f"slider {i} moved with the {how}", r)
            if before in (lo, hi):           # put it back, so that the next slider is tried from the lesson's state
                move_slider(ran.page, h, how=how, far=True, direction='right' if before == hi else 'left', timeout=5)


def test_graph_nodes_respond_to_clicks(ran):
    nodes = graph_nodes(ran.page)
    n = nodes.count()
    if n == 0: pytest.skip(f"{ran.lesson} displays no circuit graph ([data-node])")
    for i in sorted({0, n // 2, n - 1}):
        r = click_node(ran.page, nodes.nth(i))
        assert r['changed'], f"{ran.lesson} in {ran.app}: clicking graph node {i} changed nothing the notebook displays"


# A stand-in for the course's circuit graph: an anywidget drawing SVG nodes marked `data-node`; a click selects the
# node and the kernel answers with text. It checks the click machinery before (and besides) the lessons that use it.
_GRAPH_ESM = """
function render({ model, el }) {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('width', 200); svg.setAttribute('height', 40);
  ['a', 'b', 'c'].forEach((id, i) => {
    const c = document.createElementNS('http://www.w3.org/2000/svg', 'circle');
    c.setAttribute('cx', 30 + 60 * i); c.setAttribute('cy', 20); c.setAttribute('r', 10); c.setAttribute('data-node', id);
    c.addEventListener('click', () => { model.set('selected', id); model.save_changes(); });
    svg.appendChild(c);
  });
  const info = document.createElement('div');
  const show = () => { info.textContent = model.get('info'); };
  el.append(svg, info); show(); model.on('change:info', show);
}
export default { render };
"""
_GRAPH_CELL = f"""import anywidget, traitlets
class Graph(anywidget.AnyWidget):
    _esm = {_GRAPH_ESM!r}
    selected = traitlets.Unicode('').tag(sync=True)
    info = traitlets.Unicode('click a node').tag(sync=True)
    @traitlets.observe('selected')
    def _show(self, change): self.info = f"node {{change['new']}}: {{ord(change['new']) - 96}} edges"
Graph()"""


def test_graph_click_machinery(served, servers, browser):
    nb = {'cells': [{'cell_type': 'code', 'execution_count': None, 'id': 'graph', 'metadata': {}, 'outputs': [],
                     'source': _GRAPH_CELL}], 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}
    (served / 'graph_stand_in.ipynb').write_text(json.dumps(nb))
    page = browser.new_page(viewport={'width': 1000, 'height': 600})
    try:
        open_notebook(page, servers('lab'), 'graph_stand_in.ipynb')
        rep = run_all(page, timeout=120)
        assert rep['errors'] == [] and rep['widget_views'] == rep['widget_views_rendered'] == 1, rep
        nodes = graph_nodes(page)
        assert nodes.count() == 3
        r = click_node(page, nodes.nth(1))
        assert r['changed'] and 'node b: 2 edges' in r['after'] and 'node b' not in r['before'], r
        r = click_node(page, nodes.nth(2))
        assert r['changed'] and 'node c: 3 edges' in r['after'], r
        shutdown_kernel(page)
    finally:
        page.close()


def test_slider_browser_latency():
    "The benchmark's browser figure: the probe explorer's PCs slider, key press to new numbers, 20 moves."
    r = slider_browser_ms(20)
    assert r['moves'] == 20 and 0 < r['median'] <= r['p95'] < 10_000, r


def test_displayed_numbers():
    assert displayed_numbers('top 3 PCs: easy 87.5% (chance 51%)') == ['3', '87.5', '51']
