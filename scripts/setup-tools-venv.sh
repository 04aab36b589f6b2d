#!/usr/bin/env bash
# Creates the Python tools venv (Temporal CLI, MLflow server, scikit-image/SciPy references, OpenSlide) under
# the cache, keyed by the requirements' hash so a changed pin builds a fresh venv and an unchanged
# one is reused. Prints the venv path on its last line. Pass --bench to add PyTorch.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${NUCLEIFLOW_CACHE:-$HOME/.cache/nucleiflow}"
PYTHON="${PYTHON:-python3}"
REQS=("$ROOT/tools/python/requirements.txt")
[ "${1:-}" = "--bench" ] && REQS+=("$ROOT/tools/python/requirements-bench.txt")
HASH=$(cat "${REQS[@]}" | sha256sum | cut -c1-12)
VENV="$CACHE/tools-venv-$HASH"
if [ ! -f "$VENV/.complete" ]; then
  echo "[setup-tools-venv] creating $VENV from ${REQS[*]##*/}" >&2
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
  for r in "${REQS[@]}"; do
    "$VENV/bin/python" -m pip install --progress-bar on -r "$r" >&2 \
      || { echo "setup-tools-venv: pip could not install $r; see the messages above" >&2; exit 1; }
  done
  touch "$VENV/.complete"
fi
echo "$VENV"
