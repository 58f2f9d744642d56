"""Binder, as closely as one machine allows: build a fresh Python 3.11 environment from binder/ alone, start
JupyterLab in it, run three lessons in three kernels at the same time, and measure the memory of the whole session.

    python scripts/binder_check.py [--lessons 04 05 07] [--workdir DIR] [--json PATH]

1. The repository's tracked files are copied into a fresh folder (as repo2docker copies the repository), a fresh
   venv is made there with Python 3.11 (binder/runtime.txt), and binder/ is applied as repo2docker applies it:
   `pip install -r binder/requirements.txt` from the repository root, then `bash binder/postBuild`.
2. `jupyter lab` from that venv serves the copy; three sessions (one kernel each) are opened on three lessons through
   the Jupyter REST API, and every code cell of each lesson is sent to its kernel over the kernel's websocket, the
   three lessons running at once.
3. While they run, and after, the resident memory of the server and all its descendant processes (the kernels) is
   sampled with psutil. Two sums are reported: RSS (what the issue asks for; it counts a shared library once per
   process that maps it, so it over-states) and PSS (shared pages split between the processes that share them, which
   is how a container's memory is charged), each against Binder's limit of 2 GiB.

Prints a JSON report (and writes it with --json); exits 1 when a lesson cell fails or the RSS peak passes 2 GiB.
"""
from __future__ import annotations

import argparse, asyncio, json, os, secrets, shutil, socket, subprocess, sys, tempfile, threading, time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
BINDER_LIMIT = 2 * 2**30          # mybinder.org's memory limit, 2G (Kubernetes' G is 2**30 bytes)
DEFAULT_LESSONS = ('04', '05', '07')


def _python311() -> str:
    for candidate in (os.environ.get('BINDER_PYTHON'), shutil.which('python3.11')):
        if candidate and subprocess.run([candidate, '-c', 'import sys; assert sys.version_info[:2] == (3, 11)'],
                                        capture_output=True).returncode == 0:
            return candidate
    raise RuntimeError("binder/runtime.txt asks for Python 3.11: no python3.11 on PATH (or set BINDER_PYTHON)")


def copy_repo(dest: Path) -> Path:
    "The tracked files (as committed or as edited, never untracked build output) copied into `dest`."
    files = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], cwd=ROOT,
                           check=True, capture_output=True).stdout.decode().split('\0')
    for name in filter(None, files):
        src = ROOT / name
        if not src.is_file(): continue            # deleted in the work tree
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / name)
    return dest


def build_env(repo: Path) -> tuple[Path, float]:
    "A fresh venv in `repo`/.binder-venv built from binder/ alone; its bin folder and the seconds it took."
    t0 = time.perf_counter()
    venv = repo / '.binder-venv'
    subprocess.run([_python311(), '-m', 'venv', str(venv)], check=True)
    env = dict(os.environ, PATH=f"{venv / 'bin'}:{os.environ['PATH']}", VIRTUAL_ENV=str(venv))
    env.pop('PYTHONPATH', None)
    subprocess.run([str(venv / 'bin' / 'pip'), 'install', '-q', '--no-cache-dir', '-r', 'binder/requirements.txt'],
                   cwd=repo, env=env, check=True)
    subprocess.run(['bash', 'binder/postBuild'], cwd=repo, env=env, check=True)
    return venv / 'bin', time.perf_counter() - t0


def _cuda_packages(bin_dir: Path) -> list:
    "The installed distributions that are CUDA builds (nvidia-*, *cuda*): Binder gives no GPU, they would be waste."
    listed = subprocess.run([str(bin_dir / 'python'), '-m', 'pip', 'list', '--format=json'], check=True,
                            capture_output=True, text=True).stdout
    return sorted(d['name'] for d in json.loads(listed)
                  if d['name'].lower().startswith('nvidia-') or 'cuda' in d['name'].lower())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0)); return sock.getsockname()[1]


class Memory:
    "Samples the summed RSS and PSS of a process and all its descendants in a thread; keeps the peaks."
    def __init__(self, pid: int, every: float = 0.25):
        self.root, self.every = psutil.Process(pid), every
        self.peak_rss = self.peak_pss = 0; self.at_peak = {}
        self._stop = threading.Event(); self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> dict:
        procs, out = [self.root, *self.root.children(recursive=True)], {}
        for p in procs:
            try: info = p.memory_full_info(); out[p.pid] = (' '.join(p.cmdline()), info.rss, info.pss)
            except psutil.NoSuchProcess: pass
        return out

    def _run(self):
        while not self._stop.is_set():
            s = self.sample()
            rss, pss = sum(v[1] for v in s.values()), sum(v[2] for v in s.values())
            if rss > self.peak_rss: self.peak_rss, self.at_peak = rss, s
            self.peak_pss = max(self.peak_pss, pss)
            self._stop.wait(self.every)

    def __enter__(self): self._thread.start(); return self
    def __exit__(self, *exc): self._stop.set(); self._thread.join()


def _api(base: str, token: str, path: str, body: dict | None = None, method: str = 'GET'):
    req = urllib.request.Request(f"{base}{path}", method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={'Authorization': f'token {token}', 'Content-Type': 'application/json'})
    with urllib.request.urlopen(req, timeout=60) as r: return json.loads(r.read() or b'null')


async def run_lesson(base: str, token: str, kernel_id: str, cells: list[str], timeout: float) -> dict:
    "Send each cell to the kernel over its websocket, one after another; stop at the first error."
    from tornado.websocket import websocket_connect
    url = base.replace('http', 'ws', 1) + f"/api/kernels/{kernel_id}/channels?token={token}"
    ws = await websocket_connect(url)
    session, t0 = secrets.token_hex(8), time.perf_counter()
    try:
        for i, code in enumerate(cells):
            msg_id = secrets.token_hex(8)
            await ws.write_message(json.dumps({
                'header': {'msg_id': msg_id, 'username': 'binder', 'session': session, 'msg_type': 'execute_request',
                           'version': '5.3'},
                'parent_header': {}, 'metadata': {}, 'channel': 'shell', 'buffers': [],
                'content': {'code': code, 'silent': False, 'store_history': True, 'user_expressions': {},
                            'allow_stdin': False, 'stop_on_error': True}}))
            while True:
                raw = await asyncio.wait_for(ws.read_message(), timeout)
                if raw is None: raise RuntimeError(f"the kernel's websocket closed during cell {i}")
                if isinstance(raw, bytes): continue
                msg = json.loads(raw)
                if msg.get('parent_header', {}).get('msg_id') != msg_id: continue
                if msg['msg_type'] == 'execute_reply':
                    if msg['content']['status'] != 'ok':
                        c = msg['content']
                        return {'ok': False, 'cells_run': i, 'error': f"cell {i}: {c.get('ename')}: {c.get('evalue')}",
                                'seconds': time.perf_counter() - t0}
                    break
        return {'ok': True, 'cells_run': len(cells), 'seconds': time.perf_counter() - t0}
    finally:
        ws.close()


def lesson_cells(path: Path) -> list[str]:
    nb = json.loads(path.read_text())
    return [''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'code' and ''.join(c['source']).strip()]


def session(repo: Path, bin_dir: Path, lessons: list[Path], timeout: float) -> dict:
    "JupyterLab from `bin_dir` serving `repo`, with one kernel per lesson running them all at once."
    port, token = _free_port(), secrets.token_hex(16)
    home = Path(tempfile.mkdtemp(prefix='binder-home-'))
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", VIRTUAL_ENV=str(bin_dir.parent), HOME=str(home),
               JUPYTER_CONFIG_DIR=str(home / 'config'), JUPYTER_DATA_DIR=str(home / 'data'),
               JUPYTER_RUNTIME_DIR=str(home / 'runtime'))
    # Binder gives no thread pinning: the lessons pin themselves to one thread (core.train.one_thread), as they do there.
    env.pop('OMP_NUM_THREADS', None); env.pop('MKL_NUM_THREADS', None); env.pop('PYTHONPATH', None)
    root = ['--allow-root'] if os.geteuid() == 0 else []
    server = subprocess.Popen([str(bin_dir / 'jupyter'), 'lab', '--no-browser', f'--port={port}', '--ip=127.0.0.1',
                               f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={repo}', *root],
                              env=env, cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try: _api(base, token, '/api/status'); break
            except OSError: time.sleep(0.5)
            if server.poll() is not None: raise RuntimeError(f"jupyter lab exited: {server.stderr.read().decode()[-2000:]}")
        else: raise RuntimeError("jupyter lab did not answer within 120 s")
        with Memory(server.pid) as mem:
            idle = sum(v[1] for v in mem.sample().values())
            kernels = [_api(base, token, '/api/sessions', {'path': str(p.relative_to(repo)), 'type': 'notebook',
                                                            'name': p.name, 'kernel': {'name': 'python3'}}, 'POST')
                       for p in lessons]
            async def all_three():
                return await asyncio.gather(*(run_lesson(base, token, k['kernel']['id'], lesson_cells(p), timeout)
                                              for k, p in zip(kernels, lessons)))
            t0 = time.perf_counter()
            results = asyncio.run(all_three())
            wall = time.perf_counter() - t0
            time.sleep(2)                    # the kernels keep their state, as a student's do: one more sample
        names = {k['kernel']['id']: p.name for k, p in zip(kernels, lessons)}
        def label(cmd):
            return next((f"kernel: {n}" for kid, n in names.items() if kid in cmd),
                        'jupyter lab' if 'jupyter-lab' in cmd else cmd[-80:])
        procs = sorted(((label(c), r, s) for c, r, s in mem.at_peak.values()), key=lambda v: -v[1])
        return {'server_idle_rss_mb': round(idle / 2**20), 'peak_rss_mb': round(mem.peak_rss / 2**20),
                'peak_pss_mb': round(mem.peak_pss / 2**20), 'limit_mb': BINDER_LIMIT // 2**20,
                'fits': mem.peak_rss <= BINDER_LIMIT, 'wall_seconds': round(wall, 1),
                'processes_at_peak': [{'process': c, 'rss_mb': round(r / 2**20), 'pss_mb': round(s / 2**20)} for c, r, s in procs],
                'lessons': {p.name: r for p, r in zip(lessons, results)}}
    finally:
        server.terminate()
        try: server.wait(30)
        except subprocess.TimeoutExpired: server.kill(); server.wait()
        shutil.rmtree(home, ignore_errors=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--lessons', nargs=3, default=DEFAULT_LESSONS, metavar='NN', help='three lesson numbers (default 04 05 07)')
    ap.add_argument('--workdir', type=Path, help='where to build (default: a fresh temporary folder, removed after)')
    ap.add_argument('--timeout', type=float, default=900, help='seconds one cell may run')
    ap.add_argument('--json', type=Path, help='also write the report here')
    a = ap.parse_args(argv)
    work = a.workdir or Path(tempfile.mkdtemp(prefix='binder-'))
    try:
        repo = copy_repo(work / 'repo')
        lessons = []
        for n in a.lessons:
            found = sorted((repo / 'nbs' / 'lessons').glob(f'{n}_*.ipynb'))
            if len(found) != 1: raise SystemExit(f"--lessons: no single lesson numbered {n!r} in nbs/lessons")
            lessons.append(found[0])
        bin_dir, build_s = build_env(repo)
        report = {'venv_build_seconds': round(build_s, 1),
                  'python': subprocess.run([str(bin_dir / 'python'), '-V'], capture_output=True, text=True).stdout.strip(),
                  'torch': subprocess.run([str(bin_dir / 'python'), '-c', 'import torch; print(torch.__version__)'],
                                          capture_output=True, text=True).stdout.strip(),
                  'cuda_packages': _cuda_packages(bin_dir),
                  **session(repo, bin_dir, lessons, a.timeout)}
    finally:
        if a.workdir is None: shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(report, indent=1)
    print(text)
    if a.json: a.json.write_text(text)
    ok = report['fits'] and all(r['ok'] for r in report['lessons'].values())
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
