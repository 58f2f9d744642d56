"""The lessons as a student sees them: JupyterLab (or Notebook 7) on 127.0.0.1 with a fresh profile and a token,
opened in headless Chromium (Debian's `chromium`, driven by playwright), every cell run by the app's own run-all
command. These helpers serve the browser tests (tests/test_browser.py) and the benchmark's browser figure, which runs
this file as a script in a process of its own:

    python tests/browser_harness.py slider-ms --moves 20      # prints {"ms": [...]} as JSON

The fresh profile turns off autosave (a test never writes into a lesson), news fetching, and the notebook's windowing
(so every cell's output is in the page), and starts the default kernel without asking.

Everything asked of the page goes through `window.jupyterapp` (exposed by `expose_app_in_browser`): the current
notebook panel, its kernel, and each cell's model (execution count, execution state, outputs). A run is done when the
kernel is idle, no cell is running, and every code cell has run or one shows an error (run-all stops there). A widget
renders when every widget view in the outputs has a view element in the page and none says "Error displaying widget"
or is still "Loading widget...".

**Controls.** A slider is any ipywidgets slider handle in the outputs; a graph node is any element with a `data-node`
attribute in the outputs (the documented hook of the course's anywidget circuit graph). What the notebook *displays*
is the text of all its outputs, without the controls' own readouts, labels and options. An action waits until that
text changes; its latency runs from the key or mouse press (read in the page) to the first change of the displayed
text.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

try:
    from playwright.sync_api import sync_playwright, TimeoutError as PlaywrightTimeout
except ModuleNotFoundError as e:
    raise ModuleNotFoundError("playwright is not installed: pip install -e '.[dev]' (its own browser download is not "
                              "needed: the tests drive Debian's chromium)") from e

CHROMIUM = '/usr/bin/chromium'
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync', '--no-first-run']
APPS = ('lab', 'notebook')          # JupyterLab and Notebook 7
_SETTINGS = {
    'notebook-extension/tracker': {'autoStartDefaultKernel': True, 'windowingMode': 'none'},
    'docmanager-extension/plugin': {'autosave': False},
    'apputils-extension/notification': {'fetchNews': 'false', 'checkForUpdates': False},
}
_PROFILE_DIRS = (('JUPYTER_CONFIG_DIR', 'config'), ('JUPYTER_DATA_DIR', 'data'), ('JUPYTER_RUNTIME_DIR', 'runtime'),
                 ('JUPYTERLAB_SETTINGS_DIR', 'settings'), ('JUPYTERLAB_WORKSPACES_DIR', 'workspaces'))


# ---------------------------------------------------------------------------------------------------- the server

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _profile(home: Path) -> dict:
    "The environment of a server whose configuration, data and settings all live in the fresh folder `home`."
    env = {k: v for k, v in os.environ.items() if k != 'JUPYTER_TOKEN'}
    env.update(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    for var, sub in _PROFILE_DIRS:
        (home / sub).mkdir()
        env[var] = str(home / sub)
    for name, value in _SETTINGS.items():
        settings = home / 'settings' / '@jupyterlab' / f'{name}.jupyterlab-settings'
        settings.parent.mkdir(parents=True, exist_ok=True)
        settings.write_text(json.dumps(value))
    return env


class JupyterServer:
    "JupyterLab (`app='lab'`) or Notebook 7 (`app='notebook'`) serving `root` on 127.0.0.1, fresh profile, token."
    def __init__(self, root, app: str = 'lab', timeout: float = 90):
        if app not in APPS: raise ValueError(f"app: expected one of {list(APPS)}, got {app!r}")
        if not Path(root).is_dir(): raise ValueError(f"root: expected a folder, got {str(root)!r}")
        self.root, self.app, self.timeout, self.proc, self.home = Path(root).resolve(), app, timeout, None, None
        self.token, self._n_opened = secrets.token_hex(16), 0

    def _command(self) -> list:
        exe = Path(sys.executable).parent / 'jupyter'
        app_class = 'LabApp' if self.app == 'lab' else 'JupyterNotebookApp'
        cmd = [str(exe) if exe.exists() else 'jupyter', self.app, '--no-browser', '--ip=127.0.0.1',
               f'--port={self.port}', f'--IdentityProvider.token={self.token}', f'--ServerApp.root_dir={self.root}',
               f'--{app_class}.expose_app_in_browser=True']
        return cmd + (['--allow-root'] if os.geteuid() == 0 else [])

    def start(self):
        "Start the server and wait until it answers."
        self.home, self.port = Path(tempfile.mkdtemp(prefix='sparse-tutor-jupyter-')), _free_port()
        env = _profile(self.home)
        self.log_path = self.home / 'server.log'
        with open(self.log_path, 'w') as log:
            self.proc = subprocess.Popen(self._command(), env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + self.timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"`jupyter {self.app}` exited at start (is it installed?):\n{self.log()}")
            try:
                urllib.request.urlopen(f'http://127.0.0.1:{self.port}/api/status?token={self.token}', timeout=2)
                return self
            except OSError:                     # not answering yet: try again until the deadline
                if time.time() > deadline:
                    self.stop()
                    raise RuntimeError(f"`jupyter {self.app}` did not answer within {self.timeout} s") from None
                time.sleep(0.3)

    def log(self) -> str:
        "The end of the server's log."
        return self.log_path.read_text()[-4000:] if self.home and self.log_path.exists() else ''

    def url(self, path) -> str:
        "The address that opens the notebook at `path` (relative to root); in JupyterLab, in a workspace of its own."
        self._n_opened += 1
        base, rel = f'http://127.0.0.1:{self.port}', Path(path).as_posix()
        if self.app == 'lab': return f'{base}/lab/workspaces/t{self._n_opened}/tree/{rel}?token={self.token}'
        return f'{base}/notebooks/{rel}?token={self.token}'

    def stop(self):
        "Stop the server (and its kernels); remove the profile."
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try: self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self.home and self.home.exists(): shutil.rmtree(self.home)

    def __enter__(self): return self.start()
    def __exit__(self, *exc): self.stop()


@contextmanager
def chromium(executable: str = CHROMIUM):
    "Headless Debian chromium driven by playwright; a RuntimeError saying what to install when it is missing."
    if not Path(executable).is_file():
        raise RuntimeError(f"no chromium at {executable}: install Debian's package (apt-get install chromium); "
                           "scripts/test.sh does this")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try: yield browser
        finally: browser.close()


# ---------------------------------------------------------------------------------------------------- the notebook

_NB = ("(() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget; "
       "return w && w.content && w.content.widgets ? w : null })()")
_KERNEL_IDLE = f"""() => {{ const w = {_NB};
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!(k && k.status === 'idle') }}"""
_RUN_DONE = f"""() => {{ const w = {_NB}; const k = w.sessionContext.session.kernel;
  const cells = w.content.widgets.filter(c => c.model.type === 'code');
  const err = cells.some(c => c.model.outputs.toJSON().some(o => o.output_type === 'error'));
  const running = cells.some(c => c.model.executionState === 'running');
  const done = cells.every(c => c.model.executionCount !== null || c.model.sharedModel.getSource().trim() === '');
  return k.status === 'idle' && !running && (done || err) }}"""
_REPORT = f"""() => {{ const w = {_NB};
  const cells = w.content.widgets.filter(c => c.model.type === 'code');
  const bad = /Error displaying widget|Loading widget|Error rendering|model not found/;
  const errors = [], broken = [];
  let views = 0, rendered = 0;
  cells.forEach((c, i) => {{
    const els = c.node.querySelectorAll('.jp-OutputArea-output');
    c.model.outputs.toJSON().forEach((o, j) => {{
      if (o.output_type === 'error') errors.push({{cell: i, ename: o.ename, evalue: o.evalue}});
      if (!(o.data && o.data['application/vnd.jupyter.widget-view+json'])) return;
      views += 1;
      const e = els[j], view = e && e.firstElementChild;
      if (e && bad.test(e.innerText)) broken.push(`cell ${{i}}: ` + e.innerText.slice(0, 300));
      else if (view && (view.childElementCount > 0 || view.innerText.trim())) rendered += 1 }}) }});
  return {{code_cells: cells.length, executed: cells.filter(c => c.model.executionCount !== null).length, errors,
          widget_views: views, widget_views_rendered: rendered, broken}} }}"""


def open_notebook(page, server: JupyterServer, path, timeout: float = 120):
    "Open the notebook at `path` (relative to the server's root) in `page`; wait until its kernel is idle."
    page.goto(server.url(path))
    page.wait_for_function(_KERNEL_IDLE, timeout=timeout * 1000, polling=250)


def run_all(page, timeout: float = 300) -> dict:
    "Run every cell with the app's run-all command; wait until done (or stopped by an error); what ran, errors, widgets."
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    started = (f"() => {_NB}.content.widgets.some(c => c.model.type === 'code' && "
               f"c.model.executionState === 'running') || ({_RUN_DONE})()")
    page.wait_for_function(started, timeout=60_000, polling=100)
    page.wait_for_function(_RUN_DONE, timeout=timeout * 1000, polling=250)
    page.wait_for_timeout(500)             # let the last widget views attach
    return page.evaluate(_REPORT)


def wait_kernel_idle(page, timeout: float = 60):
    "Wait until the current notebook's kernel is idle (e.g. after a control's update, before a screenshot)."
    page.wait_for_function(_KERNEL_IDLE, timeout=timeout * 1000, polling=100)


def shutdown_kernel(page):
    "Shut down the current notebook's kernel (frees its memory before the next lesson)."
    page.evaluate(f"() => {_NB}.sessionContext.shutdown()")


# ---------------------------------------------------------------------------------------------------- the controls

_DISPLAYED = r"""() => { const w = window.jupyterapp.shell.currentWidget;
  const skip = '.widget-readout, label, select, option, .noUi-target, style, script';
  const parts = [];
  const walk = n => { for (const c of n.childNodes) {
      if (c.nodeType === 3) parts.push(c.nodeValue);
      else if (c.nodeType === 1 && !c.matches(skip)) { walk(c); if (c.shadowRoot) walk(c.shadowRoot) } } };
  w.content.node.querySelectorAll('.jp-OutputArea-output').forEach(walk);
  return parts.join(' ').replace(/\s+/g, ' ') }"""
_WATCH = """([displayed, before]) => { const state = eval('(' + displayed + ')');
  window.__stStart = null; window.__stDone = null;
  const node = window.jupyterapp.shell.currentWidget.content.node;
  const obs = new MutationObserver(() => { const t = performance.now();
    if (state() !== before) { window.__stDone = t; obs.disconnect() } });
  obs.observe(node, {subtree: true, childList: true, characterData: true, attributes: true});
  window.__stObs = obs;
  const start = () => { if (window.__stStart === null) window.__stStart = performance.now() };
  document.addEventListener('keydown', start, {capture: true, once: true});
  document.addEventListener('mousedown', start, {capture: true, once: true}) }"""
_KEYS = {('right', False): 'ArrowRight', ('left', False): 'ArrowLeft', ('right', True): 'End', ('left', True): 'Home'}


def sliders(page):
    "Every ipywidgets slider handle in the notebook's outputs (a playwright locator)."
    return page.locator('.jp-OutputArea-output .widget-slider .noUi-handle')


def graph_nodes(page):
    "Every circuit-graph node (an element with `data-node`) in the notebook's outputs (a playwright locator)."
    return page.locator('.jp-OutputArea-output [data-node]')


def displayed_numbers(text: str) -> list:
    "The numbers in a displayed text, in order."
    return re.findall(r'\d+(?:\.\d+)?', text)


def output_text(page, selector: str) -> list:
    "The text of every element matching `selector` inside the notebook's outputs, in page order."
    return page.locator(f'.jp-OutputArea-output {selector}').all_inner_texts()


def choose_option(page, select, value: str, timeout: float = 30) -> dict:
    "Pick `value` in a dropdown (an ipywidgets Dropdown's <select>); what the notebook displayed before and after."
    select.scroll_into_view_if_needed()
    return _act_and_wait(page, lambda: select.select_option(value), timeout)


def _act_and_wait(page, act, timeout: float) -> dict:
    """Do `act` (a key press, a drag, a click); what the notebook displayed before and after, and the ms from the press
    to the first change. Nothing changing within `timeout` is an answer (`changed` False), not an error."""
    wait_kernel_idle(page, timeout)           # the previous action's updates are all in
    before = page.evaluate(_DISPLAYED)
    page.evaluate(_WATCH, [_DISPLAYED, before])
    act()
    try: page.wait_for_function("() => window.__stDone !== null", timeout=timeout * 1000, polling='raf')
    except PlaywrightTimeout:
        page.evaluate("() => window.__stObs.disconnect()")
        return {'before': before, 'after': page.evaluate(_DISPLAYED), 'changed': False, 'numbers_changed': False,
                'ms': None}
    ms = page.evaluate("() => window.__stDone - window.__stStart")
    wait_kernel_idle(page, timeout)
    page.wait_for_timeout(100)                # the rest of the update (other outputs, images)
    after = page.evaluate(_DISPLAYED)
    return {'before': before, 'after': after, 'changed': True, 'ms': round(ms, 1),
            'numbers_changed': displayed_numbers(before) != displayed_numbers(after)}


def _drag(page, handle, direction: str, far: bool, steps: float):
    "A mouse drag of `handle` about one step (`far`: past the end of the track) to the `direction`."
    track = handle.locator('xpath=ancestor::div[contains(@class, "noUi-base")][1]').bounding_box()
    box = handle.bounding_box()
    dx = track['width'] + box['width'] if far else max(1.3 * track['width'] / max(steps, 1), 6)
    dx *= 1 if direction == 'right' else -1
    x, y = box['x'] + box['width'] / 2, box['y'] + box['height'] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y, steps=4)
    page.mouse.up()


def move_slider(page, handle, how: str = 'keyboard', direction: str | None = None, far: bool = False,
                timeout: float = 30) -> dict:
    """Move a slider with the real keyboard (focus the handle, press an arrow key; `far`: Home or End) or mouse (drag
    the handle about one step; `far`: to the end of the track); right, or left at the maximum. What the notebook
    displayed before and after, and the latency in ms from the press to the first change."""
    if how not in ('keyboard', 'mouse'): raise ValueError(f"how: expected 'keyboard' or 'mouse', got {how!r}")
    lo, hi, now = (float(handle.get_attribute(a)) for a in ('aria-valuemin', 'aria-valuemax', 'aria-valuenow'))
    if direction is None: direction = 'left' if now >= hi else 'right'
    if direction not in ('left', 'right'): raise ValueError(f"direction: expected 'left' or 'right', got {direction!r}")
    handle.scroll_into_view_if_needed()
    if how == 'keyboard':
        def act():
            handle.focus()
            page.keyboard.press(_KEYS[direction, far])
    else:
        def act(): _drag(page, handle, direction, far, hi - lo)
    return _act_and_wait(page, act, timeout)


def click_node(page, node, timeout: float = 30) -> dict:
    "Click a circuit-graph node with the mouse; what the notebook displayed before and after, and the latency in ms."
    node.scroll_into_view_if_needed()
    return _act_and_wait(page, lambda: node.click(), timeout)


# ---------------------------------------------------------------------------------------------------- the benchmark

_EXPLORER_NB = {'cells': [{'cell_type': 'code', 'execution_count': None, 'id': 'explorer', 'metadata': {}, 'outputs': [],
    'source': 'from sparse_tutor.bench import explorer_data\nfrom sparse_tutor.widgets.probe_explorer import ProbeExplorer\n'
              'ProbeExplorer(*explorer_data())'}],
    'metadata': {'kernelspec': {'display_name': 'Python 3 (ipykernel)', 'language': 'python', 'name': 'python3'}},
    'nbformat': 4, 'nbformat_minor': 5}


def slider_ms(n_moves: int = 20, app: str = 'lab') -> list:
    """Milliseconds from each key press (JupyterLab; a mouse drag in Notebook 7) on lesson 1's probe explorer's PCs
    slider (on `sparse_tutor.bench.explorer_data`) to the new numbers on the page: ten moves right, ten left, ..."""
    if isinstance(n_moves, bool) or not isinstance(n_moves, int) or n_moves < 1:
        raise ValueError(f"n_moves: expected an int >= 1, got {n_moves!r}")
    with tempfile.TemporaryDirectory() as folder, JupyterServer(folder, app) as server, chromium() as browser:
        (Path(folder) / 'probe_explorer.ipynb').write_text(json.dumps(_EXPLORER_NB))
        page = browser.new_page(viewport={'width': 1400, 'height': 1000})
        open_notebook(page, server, 'probe_explorer.ipynb')
        report = run_all(page, timeout=120)
        if report['errors'] or report['widget_views_rendered'] != 1:
            raise RuntimeError(f"the probe explorer notebook did not run and render: {report}")
        handle, ms = sliders(page).nth(1), []
        for i in range(n_moves):
            moved = move_slider(page, handle, how='keyboard' if app == 'lab' else 'mouse',
                                direction='right' if (i // 10) % 2 == 0 else 'left')
            if not moved['numbers_changed']:
                raise RuntimeError(f"slider move {i} did not change the displayed numbers: {moved}")
            ms.append(moved['ms'])
        shutdown_kernel(page)
    return ms


def main(argv=None):
    parser = argparse.ArgumentParser(description='browser measurements of the course widgets (prints JSON)')
    sub = parser.add_subparsers(dest='command', required=True)
    cmd = sub.add_parser('slider-ms', help="ms per move of lesson 1's probe explorer's PCs slider in the browser")
    cmd.add_argument('--moves', type=int, default=20)
    cmd.add_argument('--app', choices=APPS, default='lab')
    args = parser.parse_args(argv)
    print(json.dumps({'ms': slider_ms(args.moves, args.app), 'app': args.app}))


if __name__ == '__main__':
    main()
