# Shared set-up for scripts/course.sh and scripts/test.sh (sourced, not run).
# Creates .venv on first use, installs the CPU build of torch and this package with the extras asked for, at the versions
# constraints.txt pins, and on later runs reuses the environment unless pyproject.toml or constraints.txt changed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
extras="$1"
venv=.venv
py="$venv/bin/python"
stamp="$venv/.sparse-tutor-$extras"
want="$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-64)"
torch_pin="$(sed -n 's/^torch==//p' constraints.txt)"
if [ ! -x "$py" ]; then
  echo "sparse_tutor: creating $venv" >&2
  "${PYTHON:-python3}" -m venv "$venv"
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  if ! "$py" -c "import sys, torch; sys.exit(torch.__version__.split('+')[0] != '$torch_pin')" 2>/dev/null; then
    # The CPU build of torch only: a wheel that pip's own configuration already offers (find-links),
    # else the CPU wheel index. A plain `pip install torch` would bring CUDA packages of several GB.
    "$py" -m pip install -q --no-index --no-deps "torch==$torch_pin" 2>/dev/null ||
      "$py" -m pip install -q "torch==$torch_pin" --index-url https://download.pytorch.org/whl/cpu
  fi
  "$py" -m pip install -q -c constraints.txt -e ".[$extras]"
  echo "$want" > "$stamp"
fi
export PATH="$PWD/$venv/bin:$PATH"

# The browser tests drive Debian's chromium (never a browser that playwright downloads). Installed here when missing,
# with apt-get as root (as in CI) or through passwordless sudo; when that is impossible the browser tests fail and say so.
ensure_chromium() {
  [ -x /usr/bin/chromium ] && return 0
  echo "sparse_tutor: installing Debian's chromium for the browser tests" >&2
  local sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo -n)
  if command -v apt-get >/dev/null; then
    { "${sudo[@]}" apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-liberation
    } >&2 || true
  fi
  if [ ! -x /usr/bin/chromium ]; then
    echo "################################################################################" >&2
    echo "sparse_tutor: COULD NOT INSTALL /usr/bin/chromium: the browser tests will FAIL." >&2
    echo "Install Debian's chromium (apt-get install chromium) and run again." >&2
    echo "################################################################################" >&2
  fi
}
