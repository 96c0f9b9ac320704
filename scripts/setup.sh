#!/usr/bin/env bash
# Set up everything hybridnet needs on this machine, idempotently:
#   - as root on Debian: the lab's daemons (strongSwan, FRR, BIND, OpenVPN)
#     and the AWS CLI its hosts' SSM commands call the emulator with,
#     installed so that no package can start a service on the host; and
#     Chromium with its WebDriver, for the browser test of JupyterLab
#     (tests/browser: nothing else downloads a browser);
#   - always: a virtual environment in .venv with the package, its pinned
#     dependencies and test tools (the `test` extra) and a Jupyter kernel.
# Re-running it is quick when nothing changed (stamp files).
set -euo pipefail
cd "$(dirname "$0")/.."

LAB_PACKAGES=(
  iproute2 iputils-ping procps
  strongswan-starter strongswan-charon strongswan-swanctl
  libcharon-extra-plugins libstrongswan-standard-plugins
  frr bind9 bind9-dnsutils openvpn nftables shellcheck
  awscli
)
# The browser test drives Debian's Chromium through Debian's chromedriver (same
# source package, so always the same version): /usr/bin/chromium, /usr/bin/chromedriver.
BROWSER_PACKAGES=(chromium chromium-driver)

install_lab_packages() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "setup: not root on Debian; the lab's daemons and Chromium are not installed (the emulator alone still runs)"
    return 0
  fi
  local missing=()
  for pkg in "${LAB_PACKAGES[@]}" "${BROWSER_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "setup: installing Debian packages: ${missing[*]}"
  # Keep package scripts from starting services on the host (bind9 would
  # start with its default config and try the internet).
  local guard=/usr/sbin/policy-rc.d created_guard=0
  if [ ! -e "$guard" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$guard"; chmod 755 "$guard"; created_guard=1
  fi
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  [ "$created_guard" = 1 ] && rm -f "$guard"
  return 0
}

install_venv() {
  local stamp=.venv/.hybridnet-installed
  if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ] && [ "$stamp" -nt scripts/constraints.txt ]; then
    return 0
  fi
  local python=${PYTHON:-python3}
  if ! "$python" -c 'import venv, ensurepip' 2>/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv
  fi
  [ -x .venv/bin/python ] || "$python" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -c scripts/constraints.txt -e '.[test]'
  # The kernel papermill and nbval start must be this venv's Python.
  .venv/bin/python -m ipykernel install --prefix .venv --name python3 --display-name "Python 3 (hybridnet)" >/dev/null
  touch "$stamp"
}

install_lab_packages
install_venv
