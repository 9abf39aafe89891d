#!/usr/bin/env bash
# Optional speed-ups and test extras, installed from Debian's packages when we are root with
# apt-get; never fatal:
# - numpy for the interpreter the tests use (arrays arrive as numpy arrays);
# - nats-server (cluster tests start a real `nats-server -js`).
# Tests that need one of them skip with a printed reason when it is missing.
set -u
PY="${SNAKEPIT_TEST_PYTHON:-/usr/bin/python3}"
CAN_APT=0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then CAN_APT=1; fi
UPDATED=0

apt_install() { # package, what it is for
  if [ "$CAN_APT" != "1" ]; then
    echo "optional-deps: not installing $1 (needs root and apt-get); $2 will skip"
    return 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  if [ "$UPDATED" = "0" ]; then
    timeout 300 apt-get update -qq >/dev/null 2>&1 || true
    UPDATED=1
  fi
  if timeout 300 apt-get install -y -qq "$1" >/dev/null 2>&1; then
    echo "optional-deps: installed $1"
  else
    echo "optional-deps: apt-get could not install $1; $2 will skip"
  fi
}

if "$PY" -c "import numpy" 2>/dev/null; then
  echo "optional-deps: numpy already importable by $PY"
elif [ "$PY" != "/usr/bin/python3" ]; then
  echo "optional-deps: not installing numpy (needs /usr/bin/python3); numpy tests will skip"
else
  apt_install python3-numpy "numpy tests"
fi

if command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ]; then
  echo "optional-deps: nats-server already installed"
else
  apt_install nats-server "cluster tests"
fi
exit 0
