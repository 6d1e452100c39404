#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every test file with Node's runner.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
rm -rf dist && npm run --silent build   # no compiled test of a deleted source survives
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
[ "${#files[@]}" -gt 0 ] || { echo "no test files found" >&2; exit 1; }
exec node --test --test-concurrency=1 "${files[@]}"
