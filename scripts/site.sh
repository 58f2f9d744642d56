#!/usr/bin/env bash
# Build the course website into site/_build/html/ (one static folder: open index.html, or serve it anywhere).
# Executes index.ipynb, the lessons and the library notebooks (only those changed since the last build; the first
# build executes all of them, about 10 minutes on two cores), then renders every page offline (site/build.py).
# Extra arguments go to site/build.py (--jobs N, --reuse, --timeout S).
source "$(dirname "$0")/_setup.sh" course
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
exec python site/build.py "$@"
