#!/usr/bin/env bash
# Set up (first run only) and run the whole test suite: every notebook (nbdev-test), then pytest, whose browser tests
# run every lesson in JupyterLab and Notebook 7 in headless chromium (installed here through apt-get when missing).
source "$(dirname "$0")/_setup.sh" dev
ensure_chromium
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
echo "== nbdev-test: every notebook in nbs/"
nbdev-test --n-workers 2
echo "== pytest"
python -m pytest -q "$@"
