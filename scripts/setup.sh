#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (as root) for losscape, installing only what is missing:
#   - Debian packages: a C++ toolchain and X headers for the `gl` package (headless WebGL for
#     figures, built from source), Xvfb (its display), fonts (text in figures), Fashion-MNIST;
#     with --for-tests also Chromium (the viewer and browser tests);
#   - the npm dependencies from the lock file;
#   - a WebGPU-capable Vulkan driver when no adapter is found: Mesa lavapipe (software Vulkan) from
#     bookworm-backports (Debian 12's own Mesa is too old for Dawn).
# apt is retried while another job holds its lock (apt-get update ignores DPkg::Lock::Timeout).
# Safe to run again. Usage: bash scripts/setup.sh [--for-tests]
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential python3 pkg-config libxi-dev libxext-dev libgl-dev xvfb xauth fonts-dejavu-core dataset-fashion-mnist)
[ "${1:-}" = "--for-tests" ] && packages+=(chromium)

# shellcheck source=scripts/apt-retry.sh
source scripts/apt-retry.sh

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "setup: run as root to install ${missing[*]}" >&2; exit 1; fi
  echo "setup: installing ${missing[*]}"
  apt_retry update -q
  apt_retry install -y -q --no-install-recommends "${missing[@]}"
fi

npm ci --no-audit --no-fund

if ! timeout 120 node scripts/probe-adapter.mjs; then
  if [ "$(id -u)" != 0 ]; then echo "setup: run as root to install Mesa's Vulkan driver" >&2; exit 1; fi
  echo "setup: installing Mesa lavapipe (software Vulkan) from bookworm-backports"
  src=/etc/apt/sources.list.d/losscape-backports.sources
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    # the first stanza of the system's sources (its mirror and keyring), pointed at bookworm-backports
    awk 'BEGIN{RS=""} NR==1{print; exit}' /etc/apt/sources.list.d/debian.sources \
      | sed 's/^Suites:.*/Suites: bookworm-backports/' > "$src"
  else
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\n' > "$src"
  fi
  apt_retry update -q
  apt_retry install -y -q -t bookworm-backports mesa-vulkan-drivers
  timeout 120 node scripts/probe-adapter.mjs
fi
