#!/usr/bin/env bash
# Make sure a headless Chromium is available for the browser test (tests/test_site.py), which
# fails (never skips) without one. Called by `make setup`; never fails the set-up itself, so
# `make book` works on a machine where apt is out of reach: the test then says what is missing.
# Order: $CHROMIUM -> /usr/bin/chromium (or chromium on PATH) -> Debian's package `chromium`.
set -uo pipefail
if [ -n "${CHROMIUM:-}" ] && [ -x "${CHROMIUM}" ]; then exit 0; fi
if [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1; then exit 0; fi
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
  echo "Chromium not found: installing Debian's chromium (for the browser test)"
  if $SUDO apt-get install -y -q chromium >/dev/null 2>&1 \
     || { $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO apt-get install -y -q chromium >/dev/null 2>&1; }; then
    exit 0
  fi
fi
echo "WARNING: could not install Chromium (apt-get install chromium, or set CHROMIUM=/path/to/chrome);" >&2
echo "         the browser test (tests/test_site.py) will fail until it is there." >&2
exit 0
