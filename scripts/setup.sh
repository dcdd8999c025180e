#!/usr/bin/env bash
# Installs what `make run` and `make test` need on a fresh machine, then syncs the locked
# Python environment. Safe to run again: it only installs what is missing.
#
# Supported: Debian 12, Ubuntu 24.04 (and this project's development machines). Never touches
# the system Python (PEP 668): uv lives in a project-local environment under .tools/.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.8
TOOLS_VENV=.tools/venv
# Debian packages: the broker and its clients, PostgreSQL, the browser for browser tests (and
# libatomic1, which Playwright's bundled node driver links against), npm for the console's
# charting library, venv support for the tools environment, and Caddy (the tests run the
# deployed proxy configuration, deploy/caddy/Caddyfile, with it).
DEBIAN_PACKAGES=(
  mosquitto mosquitto-clients postgresql postgresql-contrib caddy
  chromium chromium-l10n fonts-noto-cjk libatomic1 nodejs npm python3-venv
)

# Installed means the Debian package is, or (npm, venv) the command works however it came.
present() {
  case $1 in
    nodejs | npm) command -v npm >/dev/null ;;
    python3-venv) python3 -c 'import ensurepip, venv' 2>/dev/null ;;
    *) dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" ;;
  esac
}
# Ubuntu ships Chromium only as a snap (its deb is a stub that installs the snap): browser
# tests there need a Chromium at /usr/bin/chromium, which setup cannot provide.
if [[ -r /etc/os-release ]] && grep -q '^ID=ubuntu' /etc/os-release; then
  DEBIAN_PACKAGES=("${DEBIAN_PACKAGES[@]/chromium*/}")
  [[ -x /usr/bin/chromium ]] || echo "setup: note: no /usr/bin/chromium; the browser tests need one (docs/deploy.md)" >&2
fi

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  [[ -n $pkg ]] || continue
  present "$pkg" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
    echo "setup: installing ${missing[*]} with apt-get (a first run takes a few minutes)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # Debian starts a Caddy of its own on port 80 when it installs it; only the binary is needed.
    if [[ " ${missing[*]} " == *" caddy "* ]] && command -v systemctl >/dev/null; then
      systemctl disable --now caddy 2>/dev/null || true
    fi
  else
    echo "setup: these system packages are missing; install them, then run make again:" >&2
    echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi
# Debian starts its own broker on 1883 when it installs mosquitto; the project runs its own.
if command -v systemctl >/dev/null && systemctl is-active --quiet mosquitto 2>/dev/null; then
  systemctl stop mosquitto || true
fi

# uv in a project-local virtual environment: pip into the system Python is refused on
# Debian 12 and Ubuntu 23.04+ ("externally-managed-environment"), and rightly so.
uv_bin=$TOOLS_VENV/bin/uv
if [[ ! -x $uv_bin ]] || [[ $("$uv_bin" --version | awk '{print $2}') != "$UV_VERSION" ]]; then
  echo "setup: installing uv $UV_VERSION into $TOOLS_VENV"
  python3 -m venv "$TOOLS_VENV"
  "$TOOLS_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
# The system Python (3.11 on Debian 12, 3.12 on Ubuntu 24.04) runs the project: no download.
UV_PYTHON_DOWNLOADS=never "$uv_bin" sync --frozen --all-packages --quiet

# The console's charting library (console-assets/package-lock.json), served by stations from
# node_modules: no CDN, stations sit on intranets. npm ci again only when the lock changed.
installed_lock=console-assets/node_modules/.package-lock.json
if [[ ! -f $installed_lock || console-assets/package-lock.json -nt $installed_lock ]]; then
  echo "setup: installing the console's browser libraries (npm ci)"
  (cd console-assets && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
fi
