#!/usr/bin/env bash
# Make sure Debian's bubblewrap (`bwrap`) is there: the autograder runs every student's code in a
# bubblewrap sandbox and refuses to grade without one (unless --allow-unisolated). Called by
# `make setup`; never fails the set-up itself, so `make book` works where apt is out of reach:
# `autograder grade` and the tests then say what is missing.
set -uo pipefail
if command -v bwrap >/dev/null 2>&1; then exit 0; fi
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
  echo "bubblewrap not found: installing Debian's bubblewrap (the autograder's sandbox)"
  if $SUDO apt-get install -y -q bubblewrap >/dev/null 2>&1 \
     || { $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO apt-get install -y -q bubblewrap >/dev/null 2>&1; }; then
    exit 0
  fi
fi
echo "WARNING: could not install bubblewrap (sudo apt-get install bubblewrap);" >&2
echo "         autograder grade refuses to run student code until it is there." >&2
exit 0
