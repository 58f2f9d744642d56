"""Every lesson in a real browser: JupyterLab and Notebook 7 in headless Chromium (Debian's chromium, driven by
playwright), every cell run with the app's own run-all command (the harness is tests/browser_harness.py).

For each lesson notebook found by nbs/lessons/[0-9][0-9]_*.ipynb, and each app:
- every code cell runs and none shows an error;
- every widget the lesson displays renders (a view element for each widget output, none broken or still loading).

For each lesson that tests/lesson_widgets.json declares a widget for, and each app:
- at least the declared number of ipywidgets sliders render, and every slider, moved one step with the real keyboard
  (JupyterLab: focus the handle, press an arrow key) and with the real mouse (drag the handle), changes the numbers
  the notebook displays;
- the circuit graph renders at least the declared number of nodes (elements carrying a `data-node` attribute, the
  course's anywidget graph marks its clickable nodes this way), and a node clicked with the mouse changes the text
  the notebook displays.
"Displayed" means the text of all of the notebook's outputs, without the controls' own readouts and labels. A widget
that is declared but renders empty fails; a lesson without a declared widget is not part of those checks.

A screenshot of each lesson, taken after its controls were used, goes to test-artifacts/browser/.
A missing chromium or playwright fails these tests; it never skips them. The lessons are copied to a temporary
directory first, and the profile turns autosave off, so a run never writes into nbs/.
"""
import json
import re
import shutil
from pathlib import Path

import pytest

from browser_harness import (APPS, JupyterServer, chromium, open_notebook, run_all, shutdown_kernel, sliders,
                             graph_nodes, move_slider, click_node, displayed_numbers, wait_kernel_idle, output_text,
                             choose_option)
from sparse_tutor.bench import slider_browser_ms

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
LESSONS = sorted(p.stem for p in (REPO / 'nbs' / 'lessons').glob('[0-9][0-9]_*.ipynb'))
WIDGETS = json.loads((Path(__file__).with_name('lesson_widgets.json')).read_text())['lessons']
ARTIFACTS = REPO / 'test-artifacts' / 'browser'

# (app, lesson) pairs; each runs its lesson once, shared by every test below that takes it (tests/conftest.py keeps
# a pair's tests together)
RUNS = [(app, lesson) for app in APPS for lesson in LESSONS]
SLIDER_RUNS = [run for run in RUNS if WIDGETS.get(run[1], {}).get('min_sliders')]
EXPLORER_RUNS = [run for run in RUNS if run[1] == '01_what_analysis_sees']     # the probe explorer, after static()
LINKED_RUNS = [run for run in RUNS if run[1] == '04_tracing_circuits']         # the graph linked to the sliders
CAPSTONE_RUNS = [run for run in RUNS if run[1] == '07_does_sparsity_close_the_gap']   # the explorer's static figure
GRAPH_RUNS = [run for run in RUNS if WIDGETS.get(run[1], {}).get('min_graph_nodes')]
# the library's widget classes: a lesson that builds one displays a control and must be declared
WIDGET_CLASSES = ('ProbeExplorer', 'AblationSliders', 'CircuitGraph', 'SnapshotScrubber', 'CapstoneExplorer')


def _ids(runs): return [f'{app}-{lesson}' for app, lesson in runs]


def test_lessons_are_found():
    assert len(LESSONS) >= 2, f"no lesson notebooks under {REPO / 'nbs' / 'lessons'}"


def test_widget_manifest_names_the_lessons_that_build_widgets():
    unknown = sorted(set(WIDGETS) - set(LESSONS))
    assert not unknown, f"tests/lesson_widgets.json declares widgets of lessons that do not exist: {unknown}"
    builds = set()
    for lesson in LESSONS:
        nb = json.loads((REPO / 'nbs' / 'lessons' / f'{lesson}.ipynb').read_text())
        code = '\n'.join(''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'code')
        if re.search(r'\b(%s)\(' % '|'.join(WIDGET_CLASSES), code): builds.add(lesson)
    assert builds == set(WIDGETS), (f"lessons that build a widget {sorted(builds)} and lessons declared in "
                                    f"tests/lesson_widgets.json {sorted(WIDGETS)} differ")


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
    for server in started.values(): server.stop()


class LessonRun:
    def __init__(self, app, lesson, page, report, server):
        self.app, self.lesson, self.page, self.report, self.server = app, lesson, page, report, server

    def screenshot(self):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        wait_kernel_idle(self.page)
        first = self.page.locator('.jp-OutputArea-output > .jupyter-widgets, .jp-OutputArea-output [data-node]').first
        if first.count(): first.scroll_into_view_if_needed()
        self.page.screenshot(path=str(ARTIFACTS / f'{self.app}-{self.lesson}.png'))


@pytest.fixture(scope='module')
def ran(request, servers, browser):
    "The lesson (`request.param`: app, lesson) opened in the app and run top to bottom, once per lesson and app."
    app, lesson = request.param
    server = servers(app)
    page = browser.new_page(viewport={'width': 1400, 'height': 1000})
    console_errors = []
    page.on('console', lambda m: console_errors.append(m.text) if m.type == 'error' else None)
    try:
        open_notebook(page, server, f'{lesson}.ipynb')
        report = run_all(page, timeout=600)
    except Exception as e:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f'{app}-{lesson}-failed.png'))
        page.close()
        raise RuntimeError(f"{lesson} did not open and run in {app}: {e}\n--- server log ---\n{server.log()}") from e
    run = LessonRun(app, lesson, page, report, server)
    run.console_errors = console_errors
    run.screenshot()
    yield run
    run.screenshot()                   # after the controls were used
    shutdown_kernel(page)
    page.close()


@pytest.mark.parametrize('ran', RUNS, indirect=True, ids=_ids(RUNS))
def test_every_cell_runs_without_error(ran):
    report = ran.report
    assert report['errors'] == [], f"{ran.lesson} in {ran.app}: cells show errors: {report['errors']}"
    assert report['code_cells'] > 0 and report['executed'] == report['code_cells'], \
        f"{ran.lesson} in {ran.app}: {report['executed']} of {report['code_cells']} code cells ran"


@pytest.mark.parametrize('ran', RUNS, indirect=True, ids=_ids(RUNS))
def test_every_widget_renders(ran):
    report = ran.report
    assert report['broken'] == [], f"{ran.lesson} in {ran.app}: widgets failed to render: {report['broken']}"
    assert report['widget_views_rendered'] == report['widget_views'], \
        (f"{ran.lesson} in {ran.app}: {report['widget_views']} widget outputs but "
         f"{report['widget_views_rendered']} rendered views")
    widget_errors = [t for t in ran.console_errors if 'widget' in t.lower()]
    assert widget_errors == [], f"{ran.lesson} in {ran.app}: widget errors in the browser console: {widget_errors}"


def _check_move(ran, what, moved):
    assert moved['changed'], f"{ran.lesson} in {ran.app}: {what} changed nothing the notebook displays"
    assert moved['numbers_changed'], (f"{ran.lesson} in {ran.app}: {what} changed the text but not its numbers:\n"
                                      f"before: {moved['before'][-400:]}\nafter: {moved['after'][-400:]}")


def _try_slider(ran, handle, i, how):
    "Move slider `i` one step (to the end if one step shows nothing), check the numbers change, put it back."
    lo, hi = float(handle.get_attribute('aria-valuemin')), float(handle.get_attribute('aria-valuemax'))
    before = float(handle.get_attribute('aria-valuenow'))
    moved = move_slider(ran.page, handle, how=how, timeout=5)
    assert float(handle.get_attribute('aria-valuenow')) != before, \
        f"{ran.lesson} in {ran.app}: slider {i} did not move with the {how}"
    if not moved['numbers_changed']:     # one step of a slider that matters little may not show: go to the end
        moved = move_slider(ran.page, handle, how=how, far=True, direction='left' if before > lo else 'right')
    _check_move(ran, f"slider {i} moved with the {how}", moved)
    if before in (lo, hi):               # put it back, so that the next slider is tried from the lesson's state
        move_slider(ran.page, handle, how=how, far=True, direction='right' if before == hi else 'left', timeout=5)


@pytest.mark.parametrize('ran', SLIDER_RUNS, indirect=True, ids=_ids(SLIDER_RUNS))
def test_declared_sliders_change_the_displayed_numbers(ran):
    declared = WIDGETS[ran.lesson]
    handles = sliders(ran.page)
    n = handles.count()
    assert n >= declared['min_sliders'], (f"{ran.lesson} in {ran.app}: {declared['widget']} should show at least "
                                          f"{declared['min_sliders']} sliders (tests/lesson_widgets.json); {n} rendered")
    # Notebook 7 (7.6) takes arrow keys at the document before they reach an ipywidgets slider: there, the mouse only.
    ways = ['keyboard', 'mouse'] if ran.app == 'lab' else ['mouse']
    for i in range(n):
        for how in ways: _try_slider(ran, handles.nth(i), i, how)


@pytest.mark.parametrize('ran', GRAPH_RUNS, indirect=True, ids=_ids(GRAPH_RUNS))
def test_declared_graph_nodes_respond_to_clicks(ran):
    declared = WIDGETS[ran.lesson]
    nodes = graph_nodes(ran.page)
    n = nodes.count()
    assert n >= declared['min_graph_nodes'], \
        (f"{ran.lesson} in {ran.app}: {declared['widget']} should show at least {declared['min_graph_nodes']} "
         f"graph nodes (tests/lesson_widgets.json); {n} rendered")
    for i in sorted({0, n // 2, n - 1}):
        moved = click_node(ran.page, nodes.nth(i))
        assert moved['changed'], f"{ran.lesson} in {ran.app}: clicking graph node {i} changed nothing displayed"


def _explorer_state(page):
    "What lesson 1's probe explorer shows: (layer index, PCs kept, colouring feature, scatter title, probe line)."
    handles = sliders(page)
    layer, k = (int(float(handles.nth(i).get_attribute('aria-valuenow'))) for i in (0, 1))
    feature = page.locator('.jp-OutputArea-output .widget-dropdown select').first.input_value()
    title = output_text(page, '.probe-explorer-title')
    line = [t for t in output_text(page, '.widget-html') if t.startswith('probe accuracy')]
    assert len(title) == 1 and len(line) == 1, (title, line)
    return layer, k, feature, title[0], line[0]


def _assert_explorer_agrees(ran, what):
    layer, k, feature, title, line = _explorer_state(ran.page)
    name = f'hidden.{layer}.hook_post'
    assert title == f'{name}: PCA, coloured by {feature}', \
        f"{ran.lesson} in {ran.app}, {what}: the controls say {name}, {feature}; the scatter's title says {title!r}"
    assert line.startswith(f'probe accuracy, top {k} PCs of {name}:'), \
        f"{ran.lesson} in {ran.app}, {what}: the controls say {k} PCs of {name}; the numbers say {line!r}"


@pytest.mark.parametrize('ran', CAPSTONE_RUNS, indirect=True, ids=_ids(CAPSTONE_RUNS))
def test_capstone_static_figure_is_an_image(ran):
    "Lesson 7 promises its explorer as a figure where no widget front end runs: the `explorer.static()` cell shows an image."
    cell = ran.page.locator('.jp-CodeCell', has_text='explorer.static()').last
    cell.scroll_into_view_if_needed()
    images = cell.locator('.jp-OutputArea-output img')
    assert images.count() >= 1, f"{ran.lesson} in {ran.app}: the explorer.static() cell shows no image"
    box = images.first.bounding_box()
    assert box and box['width'] > 200 and box['height'] > 100, f"{ran.lesson} in {ran.app}: the figure is {box}"


@pytest.mark.parametrize('ran', EXPLORER_RUNS, indirect=True, ids=_ids(EXPLORER_RUNS))
def test_probe_explorer_follows_every_control_after_its_static_figure(ran):
    """Lesson 1 displays the explorer, then draws `explorer.static(layer=LAST, k=..., feature='hard')`: the live widget
    must show that state, and every later move of a control must update the scatter's title and the numbers."""
    page = ran.page
    wait_kernel_idle(page)
    layer, k, feature, title, line = _explorer_state(page)
    assert (layer, feature) == (3, 'hard'), f"{ran.lesson} in {ran.app}: after static() the controls show {layer}, {feature}"
    _assert_explorer_agrees(ran, 'after static()')
    layer_slider = sliders(page).nth(0)
    moved = move_slider(page, layer_slider, how='mouse', direction='left', far=True)
    _check_move(ran, 'the layer slider', moved)
    _assert_explorer_agrees(ran, 'after the layer slider moved')
    move_slider(page, layer_slider, how='mouse', direction='right', far=True)
    _assert_explorer_agrees(ran, 'after the layer slider came back')
    assert _explorer_state(page)[4] == line, \
        f"{ran.lesson} in {ran.app}: back at the static figure's layer, the numbers differ from what static() showed"
    moved = move_slider(page, sliders(page).nth(1), how='mouse', direction='left', far=True)
    _check_move(ran, 'the PCs-kept slider', moved)
    _assert_explorer_agrees(ran, 'after the PCs-kept slider moved')
    moved = choose_option(page, page.locator('.jp-OutputArea-output .widget-dropdown select').first, 'easy')
    assert moved['changed'], f"{ran.lesson} in {ran.app}: choosing 'easy' changed nothing displayed"
    _assert_explorer_agrees(ran, "after 'colour by' changed")


@pytest.mark.parametrize('ran', LINKED_RUNS, indirect=True, ids=_ids(LINKED_RUNS))
def test_sliders_follow_every_control_after_a_graph_click(ran):
    """Lesson 4 links its circuit graph to the ablation sliders: after a click on a node, its slider is marked, and
    every slider moved to 0 and back changes the numbers and then shows exactly the numbers it showed before."""
    page = ran.page
    nodes = graph_nodes(page)
    clicked = click_node(page, nodes.nth(0))
    assert clicked['changed'], f"{ran.lesson} in {ran.app}: clicking a graph node changed nothing displayed"
    pre = lambda: [t for t in output_text(page, 'pre') if t.startswith('loss ')]
    marked = pre()
    assert len(marked) >= 1 and 'selected: ' in marked[0], \
        f"{ran.lesson} in {ran.app}: after a graph click the sliders do not mark a selection: {marked}"
    handles = sliders(page)
    for i in range(handles.count()):
        handle = handles.nth(i)
        if float(handle.get_attribute('aria-valuenow')) != float(handle.get_attribute('aria-valuemax')): continue
        before = pre()
        down = move_slider(page, handle, how='mouse', direction='left', far=True)
        _check_move(ran, f"slider {i} after a graph click", down)
        assert pre()[0].split('\n')[-1] == before[0].split('\n')[-1], \
            f"{ran.lesson} in {ran.app}: moving slider {i} lost the graph's selection"
        move_slider(page, handle, how='mouse', direction='right', far=True)
        wait_kernel_idle(page)
        assert pre() == before, (f"{ran.lesson} in {ran.app}: slider {i} back at 1 shows other numbers than before "
                                 f"it moved:\nbefore: {before}\nafter: {pre()}")


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
        report = run_all(page, timeout=120)
        assert report['errors'] == [] and report['widget_views'] == report['widget_views_rendered'] == 1, report
        nodes = graph_nodes(page)
        assert nodes.count() == 3
        moved = click_node(page, nodes.nth(1))
        assert moved['changed'] and 'node b: 2 edges' in moved['after'] and 'node b' not in moved['before'], moved
        moved = click_node(page, nodes.nth(2))
        assert moved['changed'] and 'node c: 3 edges' in moved['after'], moved
        shutdown_kernel(page)
    finally:
        page.close()


def test_slider_browser_latency():
    "The benchmark's browser figure (the harness run as a script): the probe explorer's PCs slider, 20 moves."
    figure = slider_browser_ms(20)
    assert figure['n'] == 20 and figure['median'] > 0, figure


def test_missing_chromium_says_what_to_install():
    with pytest.raises(RuntimeError, match='apt-get install chromium'):
        with chromium('/nonexistent/chromium'): pass


def test_server_refuses_an_unknown_app(tmp_path):
    with pytest.raises(ValueError, match="app: expected one of"): JupyterServer(tmp_path, app='classic')


def test_displayed_numbers():
    assert displayed_numbers('top 3 PCs: easy 87.5% (chance 51%)') == ['3', '87.5', '51']
