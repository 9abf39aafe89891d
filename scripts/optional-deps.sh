#!/usr/bin/env bash
# Optional speed-ups and test extras for the interpreter the tests use: numpy (arrays arrive as
# numpy arrays). Installed from Debian's packages when we are root with apt-get; never fatal.
# Tests that need numpy skip with a printed reason when it is missing.
set -u
PY="${SNAKEPIT_TEST_PYTHON:-/usr/bin/python3}"
if "$PY" -c "import numpy" 2>/dev/null; then
  echo "optional-deps: numpy already importable by $PY"
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1 || [ "$PY" != "/usr/bin/python3" ]; then
  echo "optional-deps: not installing numpy (needs root, apt-get and /usr/bin/python3); numpy tests will skip"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
timeout 300 apt-get update -qq >/dev/null 2>&1 || true
if timeout 300 apt-get install -y -qq python3-numpy >/dev/null 2>&1; then
  echo "optional-deps: installed python3-numpy"
else
  echo "optional-deps: apt-get could not install python3-numpy; numpy tests will skip"
fi
exit 0
