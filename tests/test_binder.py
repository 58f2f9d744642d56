"""Binder, as closely as one machine allows (scripts/binder_check.py): a fresh Python 3.11 venv built from binder/
alone (requirements.txt, then postBuild), JupyterLab started from it, and the three heaviest lessons (4, 5 and 7) run
at once in three kernels through the server's REST and websocket API. It takes several minutes: most of it is the
venv's install.

- binder/ alone gives a working course: every cell of the three lessons runs without an error;
- the install is the CPU build of torch at the pinned version, with no CUDA package;
- JupyterLab and the three kernels together stay within Binder's 2 GiB (the peak of the summed RSS of the server's
  process tree, sampled while the lessons run; the report also gives the summed PSS).
The report is written to test-artifacts/binder.json.
"""
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ARTIFACT = REPO / 'test-artifacts' / 'binder.json'


def test_binder_session_fits():
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.unlink(missing_ok=True)          # a report from an earlier run must not pass for this one
    # The check builds in a temporary folder of its own and removes it (the venv is about 1.5 GB).
    run = subprocess.run([sys.executable, str(REPO / 'scripts' / 'binder_check.py'), '--json', str(ARTIFACT)],
                         capture_output=True, text=True)
    assert ARTIFACT.exists(), f"no report; the check failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    report = json.loads(ARTIFACT.read_text())
    pins = dict(line.split('==') for line in (REPO / 'constraints.txt').read_text().splitlines()
                if '==' in line and not line.startswith('#'))
    assert report['python'].startswith('Python 3.11'), report['python']
    assert report['torch'] == pins['torch'] + '+cpu', report['torch']
    assert not report['cuda_packages'], f"CUDA packages in the Binder venv: {report['cuda_packages']}"
    failed = {name: r['error'] for name, r in report['lessons'].items() if not r['ok']}
    assert not failed, failed
    assert len(report['lessons']) == 3
    kernels = [p for p in report['processes_at_peak'] if p['process'].startswith('kernel: ')]
    assert len(kernels) == 3, report['processes_at_peak']
    assert report['peak_rss_mb'] <= report['limit_mb'] == 2048, (
        f"JupyterLab and three lesson kernels peaked at {report['peak_rss_mb']} MB resident, over Binder's 2 GiB: "
        f"{report['processes_at_peak']}")
    assert run.returncode == 0, run.stderr[-3000:]
