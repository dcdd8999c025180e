#!/usr/bin/env bash
# Installs what `make run` and `make test` need on a fresh machine, then syncs the locked
# Python environment. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.8
# Debian packages: the broker and its clients, PostgreSQL, and the browser for browser tests.
DEBIAN_PACKAGES=(mosquitto mosquitto-clients postgresql postgresql-contrib chromium chromium-l10n fonts-noto-cjk)

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
    echo "setup: installing ${missing[*]} with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: please install these Debian packages: ${missing[*]}" >&2
    exit 1
  fi
fi
# Debian may start its own broker on 1883 when it installs mosquitto; the project runs its own.
if command -v systemctl >/dev/null && systemctl is-active --quiet mosquitto 2>/dev/null; then
  systemctl stop mosquitto || true
fi

if ! command -v uv >/dev/null || [[ $(uv --version | awk '{print $2}') != "$UV_VERSION" ]]; then
  echo "setup: installing uv $UV_VERSION"
  python3 -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi

python3 -m uv --version >/dev/null 2>&1 && UV="python3 -m uv" || UV=uv
$UV sync --frozen --all-packages --quiet

# The console's charting library (console-assets/package-lock.json), served by stations from
# node_modules: no CDN, stations sit on intranets. npm ci again only when the lock changed.
if ! command -v npm >/dev/null; then
  if command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
    echo "setup: installing nodejs and npm with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  else
    echo "setup: please install npm (Debian packages nodejs and npm)" >&2
    exit 1
  fi
fi
installed_lock=console-assets/node_modules/.package-lock.json
if [[ ! -f $installed_lock || console-assets/package-lock.json -nt $installed_lock ]]; then
  echo "setup: installing the console's browser libraries (npm ci)"
  (cd console-assets && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
fi
