"""Build the course website (run it through scripts/site.sh).

1. Execute nbs/index.ipynb, the seven lessons and the library notebooks with nbclient (each in its own folder, as
   nbdev-test runs them; the lessons pin themselves to one thread), keeping the executed copies in
   site/_build/executed/ keyed by a hash of the notebook and of the package: a rebuild re-executes only what changed.
2. Render each executed notebook to a static page with nbconvert (site/templates/site: JupyterLab's look, a side
   bar, nothing loaded from another host). nbdev's `#|` directives become cell tags (`#| hide` cells are left out).
   A widget's live view needs a kernel, so it is dropped and the page shows the static figure the lesson draws beside
   it; the circuit graph is drawn in the page by its own ES module (sparse_tutor/widgets/static/circuit_graph.js)
   from the JSON state the kernel exported. Each lesson gets a link that opens it on Binder.
3. The pages, their assets and site-pages.json (the list of pages) are written to site/_build/html/.
"""
from __future__ import annotations

import argparse, hashlib, json, posixpath, re, shutil, time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS, SITE = ROOT / 'nbs', ROOT / 'site'
BUILD = SITE / '_build'
EXECUTED = BUILD / 'executed'
REPOSITORY = 'https://github.com/sparse-tutor/sparse_tutor'      # pyproject.toml's Repository
BINDER = 'https://mybinder.org/v2/gh/sparse-tutor/sparse_tutor/main?urlpath=lab/tree/'
STATIC = ROOT / 'sparse_tutor' / 'widgets' / 'static'
# The widgets whose page view is re-drawn from exported JSON by their own ES module (no kernel needed).
STATIC_WIDGETS = {'CircuitGraph': ('circuit_graph.js', 'circuit_graph.css', ('nodes', 'edges', 'rows', 'title', 'width', 'selected', 'info'))}


def sources() -> list[Path]:
    "The notebooks of the site, in reading order: the index, the seven lessons, the library notebooks."
    lessons = sorted((NBS / 'lessons').glob('[0-9][0-9]_*.ipynb'))
    api = sorted(p for p in (NBS / 'api').rglob('*.ipynb') if '.ipynb_checkpoints' not in p.parts)
    if len(lessons) != 7: raise RuntimeError(f"expected the 7 lessons in {NBS / 'lessons'}, found {len(lessons)}")
    return [NBS / 'index.ipynb', *lessons, *api]


def _package_hash() -> str:
    h = hashlib.sha256()
    for p in sorted((ROOT / 'sparse_tutor').rglob('*')):
        if p.is_file() and '__pycache__' not in p.parts:
            h.update(str(p.relative_to(ROOT)).encode()); h.update(p.read_bytes())
    return h.hexdigest()


def _key(src: Path, package: str) -> str:
    return hashlib.sha256(src.read_bytes() + package.encode()).hexdigest()


def execute(src: Path, dest: Path, timeout: int) -> float:
    "Run `src` top to bottom in its own folder (as nbdev-test does) into `dest`; the seconds it took."
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.read(src, as_version=4)
    # nbdev-test skips the cells its flags mark (tst_flags in pyproject.toml) and those marked `#| eval: false`.
    skipped = []
    for cell in nb.cells:
        if cell.cell_type == 'code' and re.search(r'^#\|\s*(notest|slow|eval:\s*false)\b', cell.source, re.M):
            skipped.append(cell); cell.cell_type, cell.source = 'raw', cell.source
    t0 = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name='python3', store_widget_state=True,
                   resources={'metadata': {'path': str(src.parent)}}).execute()
    for cell in skipped: cell.cell_type = 'code'; cell.outputs, cell.execution_count = [], None
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest)
    return time.perf_counter() - t0


def _execute_job(args):
    src, dest, timeout = args
    try: return str(src), execute(src, dest, timeout), None
    except Exception as e:          # reported with the others, then the build stops: a page is never left unexecuted
        return str(src), None, f"{getattr(e, 'ename', type(e).__name__)}: {getattr(e, 'evalue', e)}"


def execute_all(jobs: int, timeout: int, reuse: bool = False) -> dict:
    """Execute every notebook whose source or the package changed since its last run (with `reuse`: only those never
    executed); the seconds each took."""
    package = _package_hash()
    todo = []
    for src in sources():
        dest = EXECUTED / src.relative_to(NBS)
        stamp = dest.with_suffix('.key')
        if dest.exists() and (reuse or (stamp.exists() and stamp.read_text() == _key(src, package))): continue
        todo.append((src, dest, timeout))
    print(f"site: executing {len(todo)} of {len(sources())} notebooks ({jobs} at a time)", flush=True)
    times, failed = {}, []
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for src, seconds, error in pool.map(_execute_job, todo):
            rel = Path(src).relative_to(NBS)
            if error:
                failed.append(f"{rel}: {error.strip().splitlines()[-1] if error.strip() else 'failed'}")
                print(f"  FAILED {rel}", flush=True); continue
            (EXECUTED / rel).with_suffix('.key').write_text(_key(Path(src), package))
            times[str(rel)] = seconds
            print(f"  {rel}: {seconds:.0f} s", flush=True)
    if failed: raise RuntimeError("these notebooks failed to execute, so the site was not built:\n  " + '\n  '.join(failed))
    return times


# ---- executed notebook -> page ---------------------------------------------------------------------------------
_DIRECTIVE = re.compile(r'^#\|\s*([A-Za-z_-]+)(?::\s*(.*))?$')


def _text(source) -> str:
    return ''.join(source) if isinstance(source, list) else source


def _tags(source: str) -> tuple[str, list]:
    "Strip nbdev's `#|` lines from a code cell; the cell tags they ask for (nbdev's hide -> the cell is left out)."
    tags, kept = [], []
    for line in source.splitlines():
        m = _DIRECTIVE.match(line.strip())
        if not m: kept.append(line); continue
        name, value = m.group(1), (m.group(2) or '').strip().lower()
        if name == 'hide' or (name == 'include' and value == 'false'): tags.append('remove-cell')
        elif name == 'hide_input' or (name == 'echo' and value == 'false'): tags.append('remove-input')
        elif name == 'hide_output' or (name == 'output' and value == 'false'): tags.append('remove-output')
    return '\n'.join(kept).strip('\n'), sorted(set(tags))


def _widget_state(nb: dict) -> dict:
    state = nb.get('metadata', {}).get('widgets', {}).get('application/vnd.jupyter.widget-state+json', {})
    return state.get('state', {})


def _redraw(name: str, props: dict, root: str, host: str) -> dict:
    """A display output that draws widget `name` into element `host` of the page with the widget's own ES module,
    from its exported JSON `props` (static_widget.js stands in for the kernel's side of the model)."""
    esm, css, _ = STATIC_WIDGETS[name]
    state = json.dumps(props, separators=(',', ':')).replace('</', '<\\/')
    html = (f'<link rel="stylesheet" href="{root}_static/{css}">'
            f'<div class="st-static-widget" id="{host}" data-widget="{name}">'
            f'<script type="application/json">{state}</script></div>'
            f'<script type="module">import {{ renderStatic }} from "{root}_static/static_widget.js";\n'
            f'import widget from "{root}_static/{esm}";\nrenderStatic(widget, "{host}");</script>')
    return {'output_type': 'display_data', 'metadata': {}, 'data': {'text/html': html}}


def page(nb: dict, rel: Path) -> dict:
    "The page for executed notebook `nb` (at nbs/`rel`), as a notebook for nbconvert."
    state, root = _widget_state(nb), '../' * (len(rel.parts) - 1)
    cells = []
    for cell in nb['cells']:
        cell = dict(cell)
        if cell['cell_type'] == 'markdown':
            # The README's Binder badge is an image from mybinder.org: the site shows a plain link instead.
            cell['source'] = re.sub(r'\[!\[Binder\]\(https://mybinder\.org/badge_logo\.svg\)\]\(([^)]+)\)',
                                    r'[Launch the course on Binder](\1)', _text(cell['source']))
            cells.append(cell); continue
        if cell['cell_type'] != 'code': continue
        cell['source'], tags = _tags(_text(cell['source']))
        if 'remove-cell' in tags or not cell['source'].strip(): continue
        cell['metadata'] = {'tags': tags} if tags else {}
        outputs = []
        for out in cell.get('outputs', []):
            view = out.get('data', {}).get('application/vnd.jupyter.widget-view+json')
            if view is None: outputs.append(out); continue
            model = state.get(view['model_id'], {}).get('state', {})
            name = model.get('_anywidget_id', '').rsplit('.', 1)[-1]
            if name in STATIC_WIDGETS:
                outputs.append(_redraw(name, {k: model[k] for k in STATIC_WIDGETS[name][2]}, root,
                                       f"st-widget-{view['model_id'][:12]}"))
            # Any other widget's live view needs a kernel: the lesson shows its static figure beside it.
        cell['outputs'] = outputs
        cells.append(cell)
    if rel.parts[0] == 'lessons':
        first = next(i for i, c in enumerate(cells) if c['cell_type'] == 'markdown')
        cells.insert(first + 1, {'cell_type': 'markdown', 'id': 'binder-launch', 'metadata': {},
                                 'source': f"[Open this lesson on Binder]({BINDER}nbs/{rel.as_posix()}) to run it with "
                                           f"its live widgets (or on your machine: `./scripts/course.sh`)."})
    out = dict(nb); out['cells'] = cells
    out['metadata'] = {'kernelspec': nb['metadata'].get('kernelspec', {}), 'language_info': {'name': 'python'}}
    return out


def title(nb: dict, fallback: str) -> str:
    for cell in nb['cells']:
        m = re.search(r'^#\s+(.+)$', _text(cell['source']), re.M)
        if cell['cell_type'] == 'markdown' and m: return re.sub(r'[*`]', '', m.group(1)).strip()
    return fallback


def _nav(entries: list, here: str) -> str:
    "The side bar: the home page, the lessons, the library notebooks by subpackage; links relative to page `here`."
    from html import escape
    root = '../' * here.count('/')
    groups, html = {}, ['<nav class="st-nav"><a class="st-home" href="' + root + 'index.html">sparse_tutor</a>']
    for e in entries:
        parts = e['source'].split('/')
        group = 'Lessons' if parts[0] == 'lessons' else ('Library: ' + parts[1] if len(parts) > 2 else 'Library') \
            if parts[0] == 'api' else None
        if group: groups.setdefault(group, []).append(e)
    for group, items in groups.items():
        html.append(f'<details{" open" if group == "Lessons" or any(i["url"] == here for i in items) else ""}>'
                    f'<summary>{escape(group)}</summary><ul>')
        for i in items:
            current = ' aria-current="page"' if i['url'] == here else ''
            html.append(f'<li><a href="{root}{i["url"]}"{current}>{escape(i["title"])}</a></li>')
        html.append('</ul></details>')
    return '\n'.join(html + ['</nav>'])


def _links(html: str, rel: Path, pages: set) -> str:
    """Relative links of notebook `rel`: to another notebook -> its page; to another file of the repository (e.g.
    solutions/) -> that file on the repository's site, since the site carries only pages. Others are left as they are."""
    def fix(m):
        target, frag = m.group(2), m.group(3) or ''
        if re.match(r'^[a-z][a-z0-9+.-]*:', target) or target.startswith('/'): return m.group(0)
        repo_path = posixpath.normpath(posixpath.join('nbs', rel.parent.as_posix(), target))
        in_nbs = repo_path[len('nbs/'):] if repo_path.startswith('nbs/') else None
        if in_nbs in pages: return f'{m.group(1)}{target[:-len(".ipynb")]}.html{frag}"'
        if not repo_path.startswith('..') and (ROOT / repo_path).exists():
            return f'{m.group(1)}{REPOSITORY}/blob/main/{repo_path}{frag}"'
        return m.group(0)
    return re.sub(r'(<a\s[^>]*?href=")([^"#]+)(#[^"]*)?"', fix, html)


def render() -> list:
    "Write the pages to site/_build/html; the manifest of pages (source, url, title)."
    import nbformat
    from nbconvert import HTMLExporter
    from traitlets.config import Config
    out = BUILD / 'html'
    if out.exists(): shutil.rmtree(out)
    (out / '_static').mkdir(parents=True)
    for esm, css, _ in STATIC_WIDGETS.values():
        shutil.copy(STATIC / esm, out / '_static' / esm); shutil.copy(STATIC / css, out / '_static' / css)
    for f in (SITE / 'static').iterdir(): shutil.copy(f, out / '_static' / f.name)
    c = Config()
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_cell_tags = ('remove-cell',)
    c.TagRemovePreprocessor.remove_input_tags = ('remove-input',)
    c.TagRemovePreprocessor.remove_all_outputs_tags = ('remove-output',)
    exporter = HTMLExporter(config=c, template_name='site', extra_template_basedirs=[str(SITE / 'templates')])
    notebooks, entries = {}, []
    for src in sources():
        rel = src.relative_to(NBS)
        nb = json.loads((EXECUTED / rel).read_text())
        notebooks[rel] = page(nb, rel)
        entries.append({'source': rel.as_posix(), 'url': rel.with_suffix('.html').as_posix(),
                        'title': title(nb, rel.stem)})
    sources_set = {e['source'] for e in entries}
    for e in entries:
        rel = Path(e['source'])
        root = '../' * (len(rel.parts) - 1)
        body, _ = exporter.from_notebook_node(nbformat.reads(json.dumps(notebooks[rel]), as_version=4), resources={
            'metadata': {'name': e['title']}, 'site_nav': _nav(entries, e['url']), 'site_root': root})
        dest = out / e['url']
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(_links(body, rel, sources_set))
    (out / 'site-pages.json').write_text(json.dumps(entries, indent=1))
    return entries


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--jobs', type=int, default=2, help='notebooks executed at once (default 2)')
    ap.add_argument('--timeout', type=int, default=900, help='seconds a cell may run (default 900)')
    ap.add_argument('--reuse', action='store_true',
                    help='keep the executed copies even where the package changed since (execute only new notebooks)')
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    execute_all(a.jobs, a.timeout, a.reuse)
    entries = render()
    out = BUILD / 'html'
    size = sum(p.stat().st_size for p in out.rglob('*') if p.is_file())
    print(f"site: {len(entries)} pages, {size / 2**20:.1f} MiB in {out.relative_to(ROOT)}, built in "
          f"{time.perf_counter() - t0:.0f} s")


if __name__ == '__main__':
    main()
