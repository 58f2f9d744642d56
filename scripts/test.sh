#!/usr/bin/env bash
# Set up (first run only) and run the whole test suite: every notebook (nbdev-test), then pytest.
source "$(dirname "$0")/_setup.sh" dev
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
echo "== nbdev-test: every notebook in nbs/"
nbdev-test --n-workers 2
echo "== pytest"
python -m pytest -q "$@"
