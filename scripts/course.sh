#!/usr/bin/env bash
# Set up (first run only) and open the course in JupyterLab. Extra arguments go to `jupyter lab`.
source "$(dirname "$0")/_setup.sh" course
root=(); [ "$(id -u)" = 0 ] && root=(--allow-root)
exec jupyter lab --ServerApp.root_dir=nbs/lessons "${root[@]}" "$@"
