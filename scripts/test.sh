#!/usr/bin/env bash
# The whole test suite, as CI runs it: lint, types, the real services, vitest, and the Python
# cross-check against scikit-image/SciPy/NumPy. Services that this script starts are stopped again.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
step() { printf '\033[1m[test]\033[0m %s\n' "$*"; }

step "lint (biome) and types (tsc)"
npx biome ci .
npx tsc -p tsconfig.json --noEmit

started_services=0
if ! bash scripts/services.sh status >/dev/null 2>&1; then
  started_services=1
fi
cleanup() { if [ "$started_services" = 1 ]; then bash scripts/services.sh down || true; fi; }
trap cleanup EXIT
step "services"
bash scripts/services.sh up
# shellcheck disable=SC1091
source "${NUCLEIFLOW_HOME:-$ROOT/.nucleiflow}/services/env.sh"
export NUCLEIFLOW_TEST_DATABASE_URL="${NUCLEIFLOW_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/nucleiflow_test}"

step "vitest"
npx vitest run "$@"

if [ -f tools/python/crosscheck_postprocess_metrics.py ]; then
  step "cross-check against scikit-image / SciPy / NumPy"
  VENV=$(bash scripts/setup-tools-venv.sh)
  "$VENV/bin/python" tools/python/crosscheck_postprocess_metrics.py --check
fi
