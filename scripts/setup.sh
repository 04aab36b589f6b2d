#!/usr/bin/env bash
# Installs everything NucleiFlow needs on a fresh machine of this kind, idempotently:
#   1. npm packages from the lock file (install scripts off: tfjs-node's would download from the internet);
#   2. native TensorFlow for tfjs-node, built against the tensorflow-cpu wheel (cached);
#   3. the Python tools venv: Temporal CLI, MLflow server, scikit-image/SciPy references, the OpenSlide
#      C library that src/slide reads whole-slide images with (cached).
# Pass --with-browser to also install Debian's Chromium for the dashboard's browser tests.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
step() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

step "npm packages"
STAMP=node_modules/.nucleiflow-lock-sha
LOCK_SHA=$(sha256sum package-lock.json | cut -c1-64)
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$LOCK_SHA" ]; then
  npm ci --ignore-scripts --no-audit --no-fund
  echo "$LOCK_SHA" > "$STAMP"
else
  echo "  up to date with package-lock.json"
fi

step "native TensorFlow"
bash scripts/setup-tensorflow.sh

step "Python tools venv"
echo "  $(bash scripts/setup-tools-venv.sh)"

if [ "${1:-}" = "--with-browser" ]; then
  step "Chromium for browser tests"
  if [ -x /usr/bin/chromium ]; then
    echo "  $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
  else
    command -v apt-get >/dev/null || { echo "setup: /usr/bin/chromium is missing and apt-get is not available; install Chromium" >&2; exit 1; }
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    /usr/bin/chromium --version
  fi
fi
step "done"
