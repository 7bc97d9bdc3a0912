#!/usr/bin/env bash
# The whole test suite, as CI runs it: set-up, type check, lint, unit + integration + e2e tests.
# Privileged tests need root (network namespaces); under CI=true they never skip.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== typecheck"; npx tsc -p tsconfig.json --noEmit
echo "== lint"; npx eslint .
echo "== tests"; node scripts/run-tests.mjs "$@"
