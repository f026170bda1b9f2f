#!/usr/bin/env bash
# Install Debian's PostgreSQL server binaries for the store tests (tests/pg.py
# starts a throwaway cluster from them). Idempotent: does nothing when
# /usr/lib/postgresql/<version>/bin/initdb is already there. Needs root or sudo
# only when something is missing. The package's own cluster is not used.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  exit 0
fi
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "installing Debian package: postgresql" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends postgresql >/dev/null
ls /usr/lib/postgresql/*/bin/initdb >/dev/null
