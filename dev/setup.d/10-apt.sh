#!/usr/bin/env bash
# Build toolchain and C++ libraries from Debian.
source "$(dirname "$0")/../lib.sh"
dm_apt build-essential cmake ninja-build pkg-config git curl ca-certificates \
  libboost-dev libboost-system-dev nlohmann-json3-dev libvalijson-dev libcurl4-openssl-dev \
  libssl-dev libvectorscan-dev libyaml-cpp-dev libcli11-dev libspdlog-dev libsqlite3-dev \
  libpq-dev libpqxx-dev libgtest-dev libgmock-dev googletest libbenchmark-dev \
  clang libclang-rt-14-dev clang-format python3 python3-venv wrk hyperfine libre2-dev ccache
# Node.js and npm: use the machine's own when present (an npm from another source conflicts with
# Debian's npm package); otherwise Debian's.
command -v node >/dev/null 2>&1 || dm_apt nodejs
command -v npm >/dev/null 2>&1 || dm_apt npm
# Headless Chromium + chromedriver for the approval page test (tests/guard, selenium).
dm_apt chromium chromium-driver
# HAProxy in front of two `dagmedic serve` replicas (tests/replicas, dev/test.d/47-replicas.sh).
dm_apt haproxy
# The package and the image (dev/test.d/70-package.sh, 71-image.sh): a clean Debian 12 root, an OCI layout.
dm_apt mmdebstrap umoci
