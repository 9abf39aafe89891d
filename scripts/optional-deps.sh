#!/usr/bin/env bash
# Optional speed-ups and test extras for the interpreter the tests use: numpy (arrays arrive as
# numpy arrays), and venv + pip (managed environments, `snakepit setup` with `requirements`).
# Installed from Debian's packages when we are root with apt-get; never fatal. Tests that need
# them skip with a printed reason when they are missing.
set -u
PY="${SNAKEPIT_TEST_PYTHON:-/usr/bin/python3}"
can_apt() { [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1 && [ "$PY" = "/usr/bin/python3" ]; }
updated=0
apt_install() { # $1 = what for, rest = packages
  local what="$1"; shift
  if ! can_apt; then
    echo "optional-deps: not installing $* (needs root, apt-get and /usr/bin/python3); $what tests will skip"
    return
  fi
  export DEBIAN_FRONTEND=noninteractive
  if [ "$updated" = 0 ]; then timeout 300 apt-get update -qq >/dev/null 2>&1 || true; updated=1; fi
  if timeout 300 apt-get install -y -qq "$@" >/dev/null 2>&1; then
    echo "optional-deps: installed $*"
  else
    echo "optional-deps: apt-get could not install $*; $what tests will skip"
  fi
}
if "$PY" -c "import numpy" 2>/dev/null; then
  echo "optional-deps: numpy already importable by $PY"
else
  apt_install numpy python3-numpy
fi
if "$PY" -c "import venv, ensurepip" 2>/dev/null && "$PY" -m pip --version >/dev/null 2>&1; then
  echo "optional-deps: venv and pip already available to $PY"
else
  apt_install "managed-environment" python3-venv python3-pip
fi
exit 0
