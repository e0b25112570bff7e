#!/usr/bin/env bash
# Installs every Debian package the project needs. Idempotent and quiet:
# does nothing when everything is already installed. Run as root (or with sudo).
set -euo pipefail

PG_MAJOR=${PG_MAJOR:-15}
PACKAGES=(
  build-essential make cmake pkg-config git curl ca-certificates
  "postgresql-${PG_MAJOR}" "postgresql-server-dev-${PG_MAJOR}" "postgresql-${PG_MAJOR}-cron"
  postgresql-client libpq-dev
  libcurl4-openssl-dev nlohmann-json3-dev libcpp-httplib-dev libicu-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
