#!/usr/bin/env bash
# Contenders for `npm run bench`: numpy and FastAPI + uvicorn from Debian (plus python3-torch for
# the preload bench), installed by scripts/optional-deps.sh for the interpreter the bench uses.
# Never fatal: a contender that cannot run is skipped by bench/compare.ts with a printed reason.
# python-shell and autocannon are devDependencies.
set -u
SNAKEPIT_TEST_PYTHON="${SNAKEPIT_BENCH_PYTHON:-/usr/bin/python3}" SNAKEPIT_EXTRA_PACKAGES="python3-torch" \
  bash "$(dirname "$0")/../scripts/optional-deps.sh"
exit 0
