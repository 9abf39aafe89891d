#!/usr/bin/env bash
# Contenders for `npm run bench`: numpy (scripts/optional-deps.sh), FastAPI + uvicorn from Debian
# for the interpreter the bench uses. Never fatal: a contender that cannot run is skipped by
# bench/compare.ts with a printed reason. python-shell and autocannon are devDependencies.
set -u
PY="${SNAKEPIT_BENCH_PYTHON:-/usr/bin/python3}"
SNAKEPIT_TEST_PYTHON="$PY" bash "$(dirname "$0")/../scripts/optional-deps.sh"
if "$PY" -c "import fastapi, uvicorn" 2>/dev/null; then
  echo "bench setup: fastapi and uvicorn importable by $PY"
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1 || [ "$PY" != "/usr/bin/python3" ]; then
  echo "bench setup: not installing fastapi/uvicorn (needs root, apt-get and /usr/bin/python3): the FastAPI contender will be skipped"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
timeout 300 apt-get update -qq >/dev/null 2>&1 || true
if timeout 600 apt-get install -y -qq python3-fastapi python3-uvicorn >/dev/null 2>&1; then
  echo "bench setup: installed python3-fastapi and python3-uvicorn"
else
  echo "bench setup: apt-get could not install python3-fastapi/python3-uvicorn: the FastAPI contender will be skipped"
fi
exit 0
