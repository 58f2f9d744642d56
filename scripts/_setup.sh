# Shared set-up for scripts/course.sh and scripts/test.sh (sourced, not run).
# Creates .venv on first use, installs the CPU build of torch and this package with the extras asked for,
# and on later runs reuses the environment unless pyproject.toml changed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
extras="$1"
venv=.venv
py="$venv/bin/python"
stamp="$venv/.sparse-tutor-$extras"
want="$(sha256sum pyproject.toml | cut -c1-64)"
if [ ! -x "$py" ]; then
  echo "sparse_tutor: creating $venv" >&2
  "${PYTHON:-python3}" -m venv "$venv"
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  if ! "$py" -c "import torch" 2>/dev/null; then
    # The CPU build of torch only: a wheel that pip's own configuration already offers (find-links),
    # else the CPU wheel index. A plain `pip install torch` would bring CUDA packages of several GB.
    "$py" -m pip install -q --no-index --no-deps "torch==2.13.0" 2>/dev/null ||
      "$py" -m pip install -q "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu
  fi
  "$py" -m pip install -q -e ".[$extras]"
  echo "$want" > "$stamp"
fi
export PATH="$PWD/$venv/bin:$PATH"
