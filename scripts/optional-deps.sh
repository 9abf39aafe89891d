#!/usr/bin/env bash
# Debian packages the test suites use, for the interpreter the tests use: numpy (arrays arrive as
# numpy arrays), chromium (dashboard browser test), nats-server (cluster tests), grpcio (gRPC
# client test), FastAPI/uvicorn (bench peer), venv/pip (managed environments, pip install of the
# bridge), psutil, qemu-user-static + arm64 libc (the arm64 binary under emulation).
# Installed with apt-get when we are root; never fatal: tests that need a missing one skip with
# a printed reason.
set -u
PY="${SNAKEPIT_TEST_PYTHON:-/usr/bin/python3}"
PACKAGES="python3-numpy chromium nats-server python3-grpcio python3-protobuf python3-fastapi python3-uvicorn python3-venv python3-pip python3-psutil qemu-user-static libc6-arm64-cross"
PACKAGES="$PACKAGES ${SNAKEPIT_EXTRA_PACKAGES:-}"

missing=""
for p in $PACKAGES; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "optional-deps: all present ($PACKAGES)"
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "optional-deps: not installing$missing (needs root and apt-get); the tests that need them will skip"
  exit 0
fi
if [ "$PY" != "/usr/bin/python3" ]; then
  echo "optional-deps: the test interpreter is $PY, not /usr/bin/python3: Debian's python3-* packages will not reach it"
fi
export DEBIAN_FRONTEND=noninteractive
timeout 300 apt-get update -qq >/dev/null 2>&1 || true
# One package at a time would be slow; try all at once, then one by one so one missing name
# does not cost the others.
if timeout 900 apt-get install -y -qq $missing >/dev/null 2>&1; then
  echo "optional-deps: installed$missing"
else
  for p in $missing; do
    if timeout 600 apt-get install -y -qq "$p" >/dev/null 2>&1; then
      echo "optional-deps: installed $p"
    else
      echo "optional-deps: apt-get could not install $p; the tests that need it will skip"
    fi
  done
fi
exit 0
