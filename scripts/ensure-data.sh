#!/usr/bin/env bash
# Make sure Fashion-MNIST is available and verified (called by `make data`).
# Order: what nnlib.data already finds (path, $NNLIB_DATA, cache, Debian's package) ->
# install Debian's dataset-fashion-mnist where apt is available -> download into the cache.
set -euo pipefail
PY=${1:-python3}
if "$PY" -m nnlib.data check; then exit 0; fi
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
  echo "Fashion-MNIST not found: installing Debian's dataset-fashion-mnist"
  if $SUDO apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 \
     || { $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1; }; then
    "$PY" -m nnlib.data check && exit 0
  fi
fi
echo "Downloading Fashion-MNIST into the cache"
"$PY" -m nnlib.data download
"$PY" -m nnlib.data check
