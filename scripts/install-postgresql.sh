#!/usr/bin/env bash
# Make sure Debian's PostgreSQL server binaries (initdb, pg_ctl, postgres in
# /usr/lib/postgresql/<major>/bin) are there: the tests of the gradebook on PostgreSQL start a
# throw-away server from them in a temporary folder (no system service is used or needed). The
# Python driver (psycopg) comes from requirements.lock. Called by `make setup`; never fails the
# set-up itself, so `make book` works where apt is out of reach: those tests then skip and say why.
set -uo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then exit 0; fi
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
  echo "PostgreSQL not found: installing Debian's postgresql (for the gradebook-on-PostgreSQL tests)"
  export DEBIAN_FRONTEND=noninteractive
  if $SUDO apt-get install -y -q postgresql >/dev/null 2>&1 \
     || { $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO apt-get install -y -q postgresql >/dev/null 2>&1; }; then
    exit 0
  fi
fi
echo "WARNING: could not install PostgreSQL (sudo apt-get install postgresql);" >&2
echo "         the gradebook-on-PostgreSQL tests will be skipped." >&2
exit 0
