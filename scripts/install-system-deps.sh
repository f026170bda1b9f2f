#!/usr/bin/env bash
# Install the Debian programs the tests (and, with "bench", the benchmarks) use
# for real. Idempotent; needs root (or sudo) only when something is missing.
set -euo pipefail
want=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || want+=(postgresql)
command -v chromium >/dev/null 2>&1 || want+=(chromium)
# Apache Spark (`vendorscope scale`, tests/test_scale_spark.py) runs on a Java 17+ runtime.
command -v java >/dev/null 2>&1 || [ -x "${JAVA_HOME:-/nonexistent}/bin/java" ] || want+=(openjdk-17-jre-headless)
if [ "${1:-}" = "bench" ]; then
  command -v nmap >/dev/null 2>&1 || want+=(nmap)
  command -v tshark >/dev/null 2>&1 || want+=(tshark)
fi
[ ${#want[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "installing Debian packages: ${want[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
