"""The course website (scripts/site.sh) in headless Chromium, served from a local HTTP server.

The site is built once for this module: the `site` fixture runs scripts/site.sh, which re-executes only the notebooks
that changed since the last build (a first build executes all of them, about 10 minutes on two cores; a rebuild with
nothing changed takes about a minute). With SPARSE_TUTOR_SITE_BUILT=1 the fixture tests the site already in
site/_build/html (as a CI step that built it just before does). Then:
- every internal link, image, script and style sheet of every page answers 200 from the local server;
- every lesson page renders all the headings its notebook has, shows at least one figure (an image that loaded, with
  a nonzero size), and has a link that opens the lesson on Binder;
- the circuit graph of lesson 4 is drawn in the page from its exported JSON (one clickable node per node of the JSON);
- no page logs a console error or throws, and no page asks for anything from another host (the site works offline).
"""
import functools
import http.server
import json
import os
import re
import subprocess
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import urljoin, urlparse, unquote
from urllib.request import urlopen

import pytest

from browser_harness import chromium

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
HTML = REPO / 'site' / '_build' / 'html'
LESSONS = sorted((REPO / 'nbs' / 'lessons').glob('[0-9][0-9]_*.ipynb'))


@pytest.fixture(scope='module')
def site():
    "Build the site (once for this module) and serve it on 127.0.0.1; the base URL and the page manifest."
    if os.environ.get('SPARSE_TUTOR_SITE_BUILT') != '1':
        subprocess.run(['bash', str(REPO / 'scripts' / 'site.sh')], cwd=REPO, check=True)
    pages = json.loads((HTML / 'site-pages.json').read_text())
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", pages
    server.shutdown()
    thread.join()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass


class _Refs(HTMLParser):
    "The URLs a page refers to: links, images, scripts and style sheets."
    def __init__(self):
        super().__init__(); self.refs = []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ('href', 'src'):
            if a.get(key) and not (tag == 'a' and a[key].startswith('#')): self.refs.append((tag, a[key]))


def _headings(nb: Path) -> list[str]:
    "The headings of a notebook's markdown cells, as text (emphasis, code marks and link targets removed)."
    found = []
    for cell in json.loads(nb.read_text())['cells']:
        if cell['cell_type'] != 'markdown': continue
        fenced = False
        for line in ''.join(cell['source']).splitlines():
            if line.lstrip().startswith(('```', '~~~')): fenced = not fenced
            m = None if fenced else re.match(r'^#{1,4}\s+(.+?)\s*$', line)
            if m: found.append(_plain(re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', re.sub(r'[*`]', '', m.group(1)))))
    return found


def _plain(text: str) -> str:
    return re.sub(r'\s+', ' ', text.replace('\u00b6', '')).strip()


def test_manifest_has_every_page(site):
    _, pages = site
    sources = {p['source'] for p in pages}
    assert 'index.ipynb' in sources
    assert {f'lessons/{p.name}' for p in LESSONS} <= sources, "every lesson is a page"
    api = sorted(str(p.relative_to(REPO / 'nbs')) for p in (REPO / 'nbs' / 'api').rglob('*.ipynb')
                 if '.ipynb_checkpoints' not in p.parts)
    assert set(api) <= sources, f"every library notebook is a page; missing {sorted(set(api) - sources)}"


def test_no_internal_link_is_broken(site):
    base, pages = site
    broken, checked = [], set()
    for page in pages:
        url = urljoin(base, page['url'])
        with urlopen(url) as r: parser = _Refs(); parser.feed(r.read().decode())
        for tag, ref in parser.refs:
            target = urljoin(url, ref)
            if urlparse(target).netloc != urlparse(base).netloc: continue    # external links are not fetched
            target = target.split('#')[0]
            if target in checked: continue
            checked.add(target)
            try:
                with urlopen(target) as r: assert r.status == 200
            except HTTPError as e: broken.append(f"{page['url']}: <{tag}> {unquote(ref)} -> {e.code}")
    assert len(checked) > len(pages), "the pages link to each other and to their figures"
    assert not broken, "broken internal links:\n" + '\n'.join(broken)


@pytest.fixture(scope='module')
def browser():
    with chromium() as b: yield b


def _open(browser, url: str) -> tuple:
    "Open `url`; the page, its console errors and its requests to other hosts (aborted: the site must not need them)."
    page = browser.new_page()
    errors, remote = [], []
    page.on('console', lambda m: errors.append(m.text) if m.type == 'error' else None)
    page.on('pageerror', lambda e: errors.append(str(e)))
    host = urlparse(url).netloc

    def route(r):
        if urlparse(r.request.url).netloc in (host, '') or r.request.url.startswith(('data:', 'blob:')): r.continue_()
        else: remote.append(r.request.url); r.abort()
    page.route('**/*', route)
    page.goto(url, wait_until='networkidle')
    return page, errors, remote


@pytest.mark.parametrize('lesson', [p.name for p in LESSONS])
def test_lesson_page(site, browser, lesson):
    base, pages = site
    entry = next(p for p in pages if p['source'] == f'lessons/{lesson}')
    page, errors, remote = _open(browser, urljoin(base, entry['url']))
    try:
        shown = [_plain(t) for t in page.locator('main h1, main h2, main h3, main h4').all_inner_texts()]
        missing = [h for h in _headings(REPO / 'nbs' / 'lessons' / lesson) if h not in shown]
        assert not missing, f"headings of the notebook not on the page: {missing}"
        figures = page.evaluate("""() => [...document.querySelectorAll('main img')]
            .filter(i => i.complete && i.naturalWidth > 0 && i.getBoundingClientRect().width > 0).length""")
        assert figures >= 1, "the page shows no figure"
        binder = page.locator('main a[href*="mybinder.org"]').first.get_attribute('href')
        assert binder.endswith(f'nbs/lessons/{lesson}'), binder
        if lesson.startswith('04_'):
            graphs = [json.loads(t) for t in page.locator(
                '[data-widget="CircuitGraph"] > script[type="application/json"]').all_text_contents()]
            assert graphs, "lesson 4's page carries the circuit graph's JSON"
            page.wait_for_selector('main [data-node]', timeout=20_000)
            drawn = page.locator('main [data-node]').count()
            assert drawn == sum(len(g['nodes']) for g in graphs), drawn
        assert not errors, f"console errors: {errors}"
        assert not remote, f"the page asked other hosts for: {remote}"
    finally:
        page.close()


def test_other_pages_have_no_console_errors(site, browser):
    base, pages = site
    bad = {}
    for entry in pages:
        if entry['source'].startswith('lessons/'): continue
        page, errors, remote = _open(browser, urljoin(base, entry['url']))
        try:
            if not page.locator('main h1').count(): errors.append('no <h1> in <main>')
            if errors or remote: bad[entry['url']] = errors + [f"remote: {u}" for u in remote]
        finally:
            page.close()
    assert not bad, bad
