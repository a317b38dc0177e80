#!/usr/bin/env bash
# Build toolchain and C++ libraries from Debian.
source "$(dirname "$0")/../lib.sh"
dm_apt build-essential cmake ninja-build pkg-config git curl ca-certificates \
  libboost-dev libboost-system-dev nlohmann-json3-dev libvalijson-dev libcurl4-openssl-dev \
  libssl-dev libvectorscan-dev libyaml-cpp-dev libcli11-dev libspdlog-dev libsqlite3-dev \
  libpq-dev libpqxx-dev libgtest-dev libgmock-dev googletest libbenchmark-dev \
  clang libclang-rt-14-dev clang-format python3 python3-venv nodejs npm wrk hyperfine libre2-dev
